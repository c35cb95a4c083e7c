package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.LearnedPositions;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.model.layers.Projection;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.WeightInit;
import java.util.List;
import java.util.Map;

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
// OPTConfig uses transformers' usual key names (num_hidden_layers, hidden_size, ...): @ConfigKeys' defaults.
@OnnxConfig(modelType = "opt")
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
        Activations.check(s.activation(), config.source().toString());
        long e = config.hiddenSize();
        long word = wordEmbedDim(config);
        long ffn = config.getInt("ffn_dim", 4 * config.hiddenSize());

        Tensor embedTokens = ops.weight(p + "embed_tokens.weight", config.vocabSize(), word);
        Tensor tokens = ops.gather(embedTokens, in.inputIds());
        if (s.project()) {
            tokens = projection(ops, tokens, p + "project_in", word, e);
        }
        Tensor hidden = ops.add(tokens, ops.gather(ops.weight(p + "embed_positions.weight",
                config.maxPositions() + POSITION_OFFSET, e), LearnedPositions.fromMask(ops, in, POSITION_OFFSET)));
        CausalAttention attention = ops.causalAttention(new CausalAttention.Spec(config.numAttentionHeads(),
                config.headDim(), 0, false, false, CausalAttention.Precision.FLOAT32_SOFTMAX), in);

        Projection pending = null; // pre-norm: the previous block's MLP output, added to the residual inside the next norm
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "layers." + layer + ".";
            if (s.normBefore()) {
                ResidualNorm n1 = addThenNorm(ops, s, hidden, pending, h + "self_attn_layer_norm", e);
                Projection attn = attention(ops, config, s.bias(), layer, h + "self_attn.", n1.normed(), attention,
                        cache);
                ResidualNorm n2 = addThenNorm(ops, s, n1.sum(), attn, h + "final_layer_norm", e);
                hidden = n2.sum();
                pending = mlp(ops, s, h, e, ffn, n2.normed());
            } else {
                // post-norm: the norm of each sum is the residual stream
                Projection attn = attention(ops, config, s.bias(), layer, h + "self_attn.", hidden, attention, cache);
                hidden = addThenNorm(ops, s, hidden, attn, h + "self_attn_layer_norm", e).normed();
                hidden = addThenNorm(ops, s, hidden, mlp(ops, s, h, e, ffn, hidden), h + "final_layer_norm", e)
                        .normed();
            }
        }
        if (s.finalNorm()) {
            hidden = addThenNorm(ops, s, hidden, pending, p + "final_layer_norm", e).normed();
        } else if (pending != null) {
            hidden = ops.add(hidden, pending.value(ops));
        }
        if (s.project()) {
            hidden = projection(ops, hidden, p + "project_out", e, word);
        }
        Tensor lmHead = ops.weightOr("lm_head.weight", embedTokens, config.vocabSize(), word);
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    /** {@code fc2(activation(fc1(x)))}, fc1's bias added inside {@link Ops#biasActivation}. */
    private static Projection mlp(Ops ops, Settings s, String h, long e, long ffn, Tensor x) {
        Tensor fc1 = s.bias() ? Linear.applyThenActivate(ops, x, h + "fc1", e, ffn, s.activation())
                : Activations.apply(ops, s.activation(), Linear.apply(ops, x, h + "fc1", e, ffn, false));
        return Linear.project(ops, fc1, h + "fc2", ffn, e, s.bias());
    }

    /**
     * The projections around {@link CausalAttention} (BART's attention, which BioGPT shares): the queries are scaled
     * by 1/sqrt(head dim), not the scores; {@code bias} on every projection or none.
     */
    static Projection attention(Ops ops, ModelConfig config, boolean bias, int layer, String w, Tensor x,
                            CausalAttention attention, KvCache cache) {
        float scaling = (float) Math.pow(config.headDim(), -0.5);
        long e = config.hiddenSize();
        Tensor context = attention.apply(ops.dim(x, 0), ops.dim(x, 1),
                () -> ops.mul(Linear.apply(ops, x, w + "q_proj", e, e, bias), ops.scalar(scaling)),
                () -> Linear.apply(ops, x, w + "k_proj", e, e, bias),
                () -> Linear.apply(ops, x, w + "v_proj", e, e, bias), cache, layer);
        return Linear.project(ops, context, w + "out_proj", e, e, bias);
    }

    /**
     * {@code residual + delta} (none when {@code delta} is null) and the norm {@code name} of the sum: one fused layer
     * when the norm has weights; without ({@code layer_norm_elementwise_affine=false}) the add and the composed norm.
     */
    private static ResidualNorm addThenNorm(Ops ops, Settings s, Tensor residual, Projection delta, String name,
                                            long width) {
        if (s.affine()) {
            return Norms.addThenLayerNorm(ops, residual, delta, name, width, LAYER_NORM_EPS);
        }
        Tensor sum = delta == null ? residual : ops.add(residual, delta.value(ops));
        return new ResidualNorm(sum, layerNorm(ops, s, sum, name, width));
    }

    /**
     * {@code project_in} / {@code project_out}: bias-free {@code nn.Linear}. Random checkpoints draw them
     * variance-preserving: two more 0.02-std products would shrink the small presets' logits to where a validation
     * tolerance no longer tells a bug from rounding.
     */
    private static Tensor projection(Ops ops, Tensor x, String name, long in, long out) {
        return ops.matmul(x, ops.weightTransposed(name + ".weight", WeightInit.FAN_IN, out, in));
    }

    private static Tensor layerNorm(Ops ops, Settings s, Tensor x, String name, long width) {
        if (s.affine()) {
            return Norms.layerNorm(ops, x, name, width, LAYER_NORM_EPS);
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

    /** {@code tiny}, {@code tiny-350m-style} (opt-350m's shape in miniature: post-LN, narrower embeddings), 125M. */
    @Override
    public Map<String, JsonObject> randomPresets() {
        return ConfigJson.presets(Map.entry("tiny", preset(1000, 64, 64, 256, 2, 4, 128, true)),
                Map.entry("tiny-350m-style", preset(1000, 64, 32, 256, 2, 4, 128, false)),
                Map.entry("opt-125m", preset(50272, 768, 768, 3072, 12, 12, 2048, true)));
    }

    /** The keys OPTConfig.save_pretrained writes, sorted; bos = eos = 2 ({@code </s>}) and pad = 1 in every size. */
    private static JsonObject preset(int vocab, int hidden, int wordEmbedDim, int ffn, int layers, int heads,
                                     int positions, boolean layerNormBefore) {
        return ConfigJson.of("_remove_final_layer_norm", false, "activation_dropout", 0.0,
                "activation_function", "relu", "architectures", List.of("OPTForCausalLM"), "attention_dropout", 0.0,
                "bos_token_id", 2, "do_layer_norm_before", layerNormBefore, "dropout", 0.1, "enable_bias", true,
                "eos_token_id", 2, "ffn_dim", ffn, "hidden_size", hidden, "init_std", 0.02,
                "layer_norm_elementwise_affine", true, "layerdrop", 0.0, "max_position_embeddings", positions,
                "model_type", "opt", "num_attention_heads", heads, "num_hidden_layers", layers, "pad_token_id", 1,
                "prefix", "</s>", "torch_dtype", "float32", "use_cache", true, "vocab_size", vocab,
                "word_embed_proj_dim", wordEmbedDim);
    }
}
