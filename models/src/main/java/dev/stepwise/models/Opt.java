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
 * OPT, as transformers' {@code OPTForCausalLM} computes it.
 *
 * <ul>
 *   <li>Token embeddings of width {@code word_embed_proj_dim}, projected to {@code hidden_size} by {@code project_in}
 *       (and back by {@code project_out} after the last layer) when the two differ; both without bias.</li>
 *   <li>Learned positions with offset 2, computed from the attention mask as {@code OPTLearnedPositionalEmbedding}
 *       does when it is given no position ids: {@code cumsum(mask) * mask - 1} over the whole mask, the last
 *       {@code sequence} columns kept, plus 2. The {@code position_ids} input of the contract is declared but not
 *       read: transformers' OPT numbers padded slots −1 (embedding row 1), while the contract's position ids give
 *       padded slots 1, so deriving positions from the mask is what matches transformers on every slot, padded ones
 *       included. Real slots get the same positions either way, so a left-padded row gives the same tokens as the
 *       row alone.</li>
 *   <li>{@code do_layer_norm_before}: pre-LayerNorm blocks (125m, 1.3b, ...) or post-LayerNorm (350m); the final
 *       LayerNorm exists only for pre-LN models without {@code _remove_final_layer_norm}.</li>
 *   <li>Query scaled by {@code head_dim^-0.5} before the score product; {@code enable_bias} for the attention and
 *       MLP projections; {@code activation_function} (ReLU); LayerNorm eps 1e-5 (nn.LayerNorm's default);
 *       {@code layer_norm_elementwise_affine}.</li>
 *   <li>LM head tied to the token embedding unless the checkpoint has {@code lm_head.weight}.</li>
 * </ul>
 */
@OnnxConfig(modelType = "opt", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads",
                hiddenSize = "hidden_size", maxPositions = "max_position_embeddings"),
        inputs = {
            @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
            @TensorSpec(name = "attention_mask", type = DType.INT64,
                    axes = {"batch_size", "past_sequence_length + sequence_length"}),
            @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
        cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
        outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
public final class Opt implements CausalLm {
    /** OPT's LayerNorms are plain {@code nn.LayerNorm}: the default epsilon, no config key. */
    static final float LAYER_NORM_EPS = 1e-5f;
    /** OPTLearnedPositionalEmbedding's offset: position p is row p + 2. */
    static final long POSITION_OFFSET = 2;

    /** The config values the forward depends on, read once. */
    private record Settings(boolean normBefore, boolean finalNorm, boolean bias, boolean affine, boolean project,
                            String activation) {
        static Settings of(ModelConfig c) {
            boolean before = c.getBoolean("do_layer_norm_before", true);
            return new Settings(before, before && !c.getBoolean("_remove_final_layer_norm", false),
                    c.getBoolean("enable_bias", true), c.getBoolean("layer_norm_elementwise_affine", true),
                    wordEmbedDim(c) != c.hiddenSize(), c.getString("activation_function", "relu"));
        }
    }

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "model.decoder.";
        Settings s = Settings.of(config);

        Tensor embedTokens = ops.weight(p + "embed_tokens.weight");
        Tensor tokens = ops.gather(embedTokens, in.inputIds());
        if (s.project()) {
            tokens = Linear.apply(ops, tokens, p + "project_in", false);
        }
        Tensor hidden = ops.add(tokens, ops.gather(ops.weight(p + "embed_positions.weight"),
                LearnedPositions.fromMask(ops, in, POSITION_OFFSET)));
        Tensor mask = AttentionMask.causal(ops, in);

        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "layers." + layer + ".";
            Tensor residual = hidden;
            if (s.normBefore()) {
                hidden = layerNorm(ops, s, hidden, h + "self_attn_layer_norm");
            }
            hidden = ops.add(residual, attention(ops, config, s, layer, h + "self_attn.", hidden, mask, cache));
            if (!s.normBefore()) {
                hidden = layerNorm(ops, s, hidden, h + "self_attn_layer_norm");
            }

            residual = hidden;
            if (s.normBefore()) {
                hidden = layerNorm(ops, s, hidden, h + "final_layer_norm");
            }
            Tensor fc1 = Linear.apply(ops, hidden, h + "fc1", s.bias());
            hidden = Linear.apply(ops, Activations.apply(ops, s.activation(), fc1), h + "fc2", s.bias());
            hidden = ops.add(residual, hidden);
            if (!s.normBefore()) {
                hidden = layerNorm(ops, s, hidden, h + "final_layer_norm");
            }
        }
        if (s.finalNorm()) {
            hidden = layerNorm(ops, s, hidden, p + "final_layer_norm");
        }
        if (s.project()) {
            hidden = Linear.apply(ops, hidden, p + "project_out", false);
        }
        Tensor lmHead = ops.hasWeight("lm_head.weight") ? ops.weight("lm_head.weight") : embedTokens;
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    /**
     * OPT's position ids for the new tokens, {@code [B, S]}, already offset: {@code cumsum(mask) * mask - 1 + 2} over
     * the whole mask (past included), of which the last {@code S} columns.
     */
    private static Tensor attention(Ops ops, ModelConfig config, Settings s, int layer, String w, Tensor x, Tensor mask,
                                    KvCache cache) {
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        float scaling = (float) Math.pow(config.headDim(), -0.5);
        Tensor query = Heads.split(ops, config, ops.mul(Linear.apply(ops, x, w + "q_proj", s.bias()), ops.scalar(scaling)),
                batch, sequence);
        Tensor key = Heads.split(ops, config, Linear.apply(ops, x, w + "k_proj", s.bias()), batch, sequence);
        Tensor value = Heads.split(ops, config, Linear.apply(ops, x, w + "v_proj", s.bias()), batch, sequence);
        if (cache.hasPast()) {
            key = ops.concat(2, cache.pastKey(layer), key);
            value = ops.concat(2, cache.pastValue(layer), value);
        }
        cache.setPresent(layer, key, value);

        Tensor scores = ops.matmul(query, ops.transpose(key, 0, 1, 3, 2));
        // transformers' OPT takes the softmax in float32 for float16 models
        Tensor probs = AttentionMask.softmaxInFloat32(ops, AttentionMask.apply(ops, scores, mask));
        Tensor context = Heads.merge(ops, ops.matmul(probs, value), batch, sequence, config.hiddenSize());
        return Linear.apply(ops, context, w + "out_proj", s.bias());
    }

    private static Tensor layerNorm(Ops ops, Settings s, Tensor x, String name) {
        if (s.affine()) {
            return Norms.layerNorm(ops, x, name, LAYER_NORM_EPS);
        }
        // elementwise_affine=false: no scale, no shift; normalized in float32, like Ops.layerNorm.
        Tensor x32 = ops.cast(x, DType.FLOAT);
        Tensor centered = ops.sub(x32, ops.reduceMean(x32, -1, true));
        Tensor variance = ops.reduceMean(ops.mul(centered, centered), -1, true);
        Tensor normed = ops.div(centered, ops.sqrt(ops.add(variance, ops.scalar(LAYER_NORM_EPS, DType.FLOAT))));
        return ops.cast(normed, x.type());
    }

    static int wordEmbedDim(ModelConfig config) {
        return config.getInt("word_embed_proj_dim", config.hiddenSize());
    }

    @Override
    public List<WeightSpec> expectedWeights(ModelConfig config) {
        Settings s = Settings.of(config);
        Activations.check(s.activation(), config.source().toString());
        long e = config.hiddenSize();
        long word = wordEmbedDim(config);
        long ffn = config.getInt("ffn_dim", 4 * config.hiddenSize());
        String p = "model.decoder.";
        List<WeightSpec> w = new ArrayList<>();
        w.add(WeightSpec.required(p + "embed_tokens.weight", config.vocabSize(), word));
        w.add(WeightSpec.required(p + "embed_positions.weight", config.maxPositions() + POSITION_OFFSET, e));
        if (s.project()) {
            w.add(WeightSpec.required(p + "project_in.weight", e, word));
            w.add(WeightSpec.required(p + "project_out.weight", word, e));
        }
        for (int i = 0; i < config.numLayers(); i++) {
            String h = p + "layers." + i + ".";
            for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
                addLinear(w, s, h + "self_attn." + proj, e, e);
            }
            addLayerNorm(w, s, h + "self_attn_layer_norm", e);
            addLinear(w, s, h + "fc1", e, ffn);
            addLinear(w, s, h + "fc2", ffn, e);
            addLayerNorm(w, s, h + "final_layer_norm", e);
        }
        if (s.finalNorm()) {
            addLayerNorm(w, s, p + "final_layer_norm", e);
        }
        w.add(WeightSpec.optional("lm_head.weight", config.vocabSize(), word));
        return w;
    }

    private static void addLinear(List<WeightSpec> w, Settings s, String name, long in, long out) {
        w.add(WeightSpec.required(name + ".weight", out, in));
        if (s.bias()) {
            w.add(WeightSpec.required(name + ".bias", out));
        }
    }

    private static void addLayerNorm(List<WeightSpec> w, Settings s, String name, long e) {
        if (s.affine()) {
            w.add(WeightSpec.required(name + ".weight", e));
            w.add(WeightSpec.required(name + ".bias", e));
        }
    }
}
