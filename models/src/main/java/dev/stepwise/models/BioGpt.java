package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.KeyValueCache;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Task;
import dev.stepwise.annotations.TensorSpec;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Heads;
import dev.stepwise.runtime.model.layers.LearnedPositions;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * BioGPT, as transformers' {@code BioGptForCausalLM} computes it: token embeddings scaled by {@code sqrt(hidden_size)}
 * when {@code scale_embedding}; learned positions with offset 2 derived from the attention mask
 * ({@code cumsum(mask) * mask - 1}, as {@code BioGptLearnedPositionalEmbedding} does; transformers' BioGPT takes no
 * position ids, so the contract's {@code position_ids} input is declared but not read); pre-LayerNorm blocks with
 * BART-style attention (query scaled by {@code head_dim^-0.5}, biases everywhere); {@code hidden_act} MLP (exact
 * GELU); a final LayerNorm; {@code output_projection} tied to the token embedding.
 *
 * <p>Every BioGPT LayerNorm is a plain {@code nn.LayerNorm}: epsilon 1e-5. The config's {@code layer_norm_eps}
 * (1e-12 in {@code microsoft/biogpt}) is not used by transformers, so it is not used here either.
 */
@OnnxConfig(modelType = "biogpt", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 14, atol = 1e-4,
        // BioGptConfig uses transformers' usual key names (num_hidden_layers, num_attention_heads, hidden_size,
        // vocab_size, max_position_embeddings, eos_token_id, ...): @ConfigKeys' defaults.
        config = @ConfigKeys,
        inputs = {
            @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
            @TensorSpec(name = "attention_mask", type = DType.INT64,
                    axes = {"batch_size", "past_sequence_length + sequence_length"}),
            @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
        cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
        outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
public final class BioGpt implements CausalLm {
    static final float LAYER_NORM_EPS = 1e-5f;
    static final long POSITION_OFFSET = 2;

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "biogpt.";
        String activation = config.getString("hidden_act", "gelu");

        Tensor embedTokens = ops.weight(p + "embed_tokens.weight");
        Tensor tokens = ops.gather(embedTokens, in.inputIds());
        if (config.getBoolean("scale_embedding", true)) {
            tokens = ops.mul(tokens, ops.scalar((float) Math.sqrt(config.hiddenSize())));
        }
        Tensor positions = ops.gather(ops.weight(p + "embed_positions.weight"),
                LearnedPositions.fromMask(ops, in, POSITION_OFFSET));
        Tensor hidden = ops.add(tokens, positions);
        Tensor mask = AttentionMask.causal(ops, in);

        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "layers." + layer + ".";
            Tensor attn = attention(ops, config, layer, h + "self_attn.", layerNorm(ops, hidden, h + "self_attn_layer_norm"),
                    mask, cache);
            hidden = ops.add(hidden, attn);
            Tensor x = layerNorm(ops, hidden, h + "final_layer_norm");
            Tensor fc1 = Linear.apply(ops, x, h + "fc1");
            hidden = ops.add(hidden, Linear.apply(ops, Activations.apply(ops, activation, fc1), h + "fc2"));
        }
        hidden = layerNorm(ops, hidden, p + "layer_norm");

        Tensor head = ops.hasWeight("output_projection.weight") ? ops.weight("output_projection.weight") : embedTokens;
        return LmHead.logits(ops, in, hidden, head);
    }

    private static Tensor attention(Ops ops, ModelConfig config, int layer, String w, Tensor x, Tensor mask,
                                    KvCache cache) {
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        float scaling = (float) Math.pow(config.headDim(), -0.5);
        Tensor query = Heads.split(ops, config, ops.mul(Linear.apply(ops, x, w + "q_proj"), ops.scalar(scaling)),
                batch, sequence);
        Tensor key = Heads.split(ops, config, Linear.apply(ops, x, w + "k_proj"), batch, sequence);
        Tensor value = Heads.split(ops, config, Linear.apply(ops, x, w + "v_proj"), batch, sequence);
        if (cache.hasPast()) {
            key = ops.concat(2, cache.pastKey(layer), key);
            value = ops.concat(2, cache.pastValue(layer), value);
        }
        cache.setPresent(layer, key, value);

        Tensor scores = ops.matmul(query, ops.transpose(key, 0, 1, 3, 2));
        Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
        Tensor context = Heads.merge(ops, ops.matmul(probs, value), batch, sequence, config.hiddenSize());
        return Linear.apply(ops, context, w + "out_proj");
    }

    private static Tensor layerNorm(Ops ops, Tensor x, String name) {
        return Norms.layerNorm(ops, x, name, LAYER_NORM_EPS);
    }

    @Override
    public List<WeightSpec> expectedWeights(ModelConfig config) {
        Activations.check(config.getString("hidden_act", "gelu"), config.source().toString());
        long e = config.hiddenSize();
        long inner = config.getInt("intermediate_size", 4 * config.hiddenSize());
        String p = "biogpt.";
        List<WeightSpec> w = new ArrayList<>();
        w.add(WeightSpec.required(p + "embed_tokens.weight", config.vocabSize(), e));
        w.add(WeightSpec.required(p + "embed_positions.weight", config.maxPositions() + POSITION_OFFSET, e));
        for (int i = 0; i < config.numLayers(); i++) {
            String h = p + "layers." + i + ".";
            for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
                w.add(WeightSpec.required(h + "self_attn." + proj + ".weight", e, e));
                w.add(WeightSpec.required(h + "self_attn." + proj + ".bias", e));
            }
            w.add(WeightSpec.required(h + "self_attn_layer_norm.weight", e));
            w.add(WeightSpec.required(h + "self_attn_layer_norm.bias", e));
            w.add(WeightSpec.required(h + "fc1.weight", inner, e));
            w.add(WeightSpec.required(h + "fc1.bias", inner));
            w.add(WeightSpec.required(h + "fc2.weight", e, inner));
            w.add(WeightSpec.required(h + "fc2.bias", e));
            w.add(WeightSpec.required(h + "final_layer_norm.weight", e));
            w.add(WeightSpec.required(h + "final_layer_norm.bias", e));
        }
        w.add(WeightSpec.required(p + "layer_norm.weight", e));
        w.add(WeightSpec.required(p + "layer_norm.bias", e));
        w.add(WeightSpec.optional("output_projection.weight", config.vocabSize(), e));
        return w;
    }
}
