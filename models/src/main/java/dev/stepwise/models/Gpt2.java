package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.KeyValueCache;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.TensorSpec;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Heads;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * GPT-2, as transformers' {@code GPT2LMHeadModel} computes it: learned positions, pre-LayerNorm blocks, fused
 * {@code c_attn} projection stored as Conv1D ({@code [in, out]}), gelu_new MLP, LM head tied to the token embedding.
 */
@OnnxConfig(modelType = "gpt2", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "n_layer", numAttentionHeads = "n_head", hiddenSize = "n_embd",
                maxPositions = "n_positions"),
        inputs = {
            @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
            @TensorSpec(name = "attention_mask", type = DType.INT64,
                    axes = {"batch_size", "past_sequence_length + sequence_length"}),
            @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
        cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
        outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
public final class Gpt2 implements CausalLm {

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "transformer.";
        float eps = (float) config.getDouble("layer_norm_epsilon", 1e-5);
        String activation = config.getString("activation_function", "gelu_new");

        Tensor wte = ops.weight(p + "wte.weight");
        Tensor hidden = ops.add(ops.gather(wte, in.inputIds()), ops.gather(ops.weight(p + "wpe.weight"), in.positionIds()));
        Tensor mask = AttentionMask.causal(ops, in);

        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "h." + layer + ".";
            Tensor attn = attention(ops, config, layer, h + "attn.", Norms.layerNorm(ops, hidden, h + "ln_1", eps), mask, cache);
            hidden = ops.add(hidden, attn);
            Tensor mlp = mlp(ops, activation, h + "mlp.", Norms.layerNorm(ops, hidden, h + "ln_2", eps));
            hidden = ops.add(hidden, mlp);
        }
        hidden = Norms.layerNorm(ops, hidden, p + "ln_f", eps);

        Tensor lmHead = ops.hasWeight("lm_head.weight") ? ops.weight("lm_head.weight") : wte;
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    private static Tensor attention(Ops ops, ModelConfig config, int layer, String w, Tensor x, Tensor mask,
                                    KvCache cache) {
        int embed = config.hiddenSize();
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        Tensor qkv = conv1d(ops, x, w + "c_attn");
        Tensor query = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(0), Dim.of(embed)), batch, sequence);
        Tensor key = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(embed), Dim.of(2L * embed)), batch, sequence);
        Tensor value = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(2L * embed), Dim.of(3L * embed)), batch, sequence);
        if (cache.hasPast()) {
            key = ops.concat(2, cache.pastKey(layer), key);
            value = ops.concat(2, cache.pastValue(layer), value);
        }
        cache.setPresent(layer, key, value);

        Tensor scores = ops.matmul(query, ops.transpose(key, 0, 1, 3, 2));
        if (config.getBoolean("scale_attn_weights", true)) {
            scores = ops.div(scores, ops.scalar((float) Math.sqrt(config.headDim())));
        }
        if (config.getBoolean("scale_attn_by_inverse_layer_idx", false)) {
            scores = ops.div(scores, ops.scalar(layer + 1));
        }
        Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
        Tensor context = Heads.merge(ops, ops.matmul(probs, value), batch, sequence, embed);
        return conv1d(ops, context, w + "c_proj");
    }

    private static Tensor mlp(Ops ops, String activation, String w, Tensor x) {
        return conv1d(ops, Activations.apply(ops, activation, conv1d(ops, x, w + "c_fc")), w + "c_proj");
    }

    /** GPT-2's Conv1D is a linear layer whose weight is stored {@code [in, out]}. */
    private static Tensor conv1d(Ops ops, Tensor x, String name) {
        return ops.add(ops.matmul(x, ops.weight(name + ".weight")), ops.weight(name + ".bias"));
    }

    @Override
    public List<WeightSpec> expectedWeights(ModelConfig config) {
        Activations.check(config.getString("activation_function", "gelu_new"), config.source().toString());
        long e = config.hiddenSize();
        long inner = config.getInt("n_inner", 4 * config.hiddenSize());
        String p = "transformer.";
        List<WeightSpec> w = new ArrayList<>();
        w.add(WeightSpec.required(p + "wte.weight", config.vocabSize(), e));
        w.add(WeightSpec.required(p + "wpe.weight", config.maxPositions(), e));
        for (int i = 0; i < config.numLayers(); i++) {
            String h = p + "h." + i + ".";
            w.add(WeightSpec.required(h + "ln_1.weight", e));
            w.add(WeightSpec.required(h + "ln_1.bias", e));
            w.add(WeightSpec.required(h + "attn.c_attn.weight", e, 3 * e));
            w.add(WeightSpec.required(h + "attn.c_attn.bias", 3 * e));
            w.add(WeightSpec.required(h + "attn.c_proj.weight", e, e));
            w.add(WeightSpec.required(h + "attn.c_proj.bias", e));
            w.add(WeightSpec.required(h + "ln_2.weight", e));
            w.add(WeightSpec.required(h + "ln_2.bias", e));
            w.add(WeightSpec.required(h + "mlp.c_fc.weight", e, inner));
            w.add(WeightSpec.required(h + "mlp.c_fc.bias", inner));
            w.add(WeightSpec.required(h + "mlp.c_proj.weight", inner, e));
            w.add(WeightSpec.required(h + "mlp.c_proj.bias", e));
        }
        w.add(WeightSpec.required(p + "ln_f.weight", e));
        w.add(WeightSpec.required(p + "ln_f.bias", e));
        w.add(WeightSpec.optional("lm_head.weight", config.vocabSize(), e));
        return w;
    }
}
