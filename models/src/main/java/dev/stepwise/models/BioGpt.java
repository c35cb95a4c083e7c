package dev.stepwise.models;

import com.google.gson.JsonObject;
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
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

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
// BioGptConfig uses transformers' usual key names (num_hidden_layers, num_attention_heads, hidden_size, vocab_size,
// max_position_embeddings, eos_token_id, ...): @ConfigKeys' defaults.
@OnnxConfig(modelType = "biogpt")
public final class BioGpt implements CausalLm {
    static final float LAYER_NORM_EPS = 1e-5f;
    static final long POSITION_OFFSET = 2;

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "biogpt.";
        String activation = Activations.read(config, "hidden_act", "gelu");
        long e = config.hiddenSize();
        long inner = config.getInt("intermediate_size", 4 * config.hiddenSize());

        Tensor embedTokens = ops.weight(p + "embed_tokens.weight", config.vocabSize(), e);
        Tensor tokens = ops.gather(embedTokens, in.inputIds());
        if (config.getBoolean("scale_embedding", true)) {
            tokens = ops.mul(tokens, ops.scalar((float) Math.sqrt(config.hiddenSize())));
        }
        Tensor positions = ops.gather(ops.weight(p + "embed_positions.weight",
                config.maxPositions() + POSITION_OFFSET, e), LearnedPositions.fromMask(ops, in, POSITION_OFFSET));
        Tensor hidden = ops.add(tokens, positions);
        // BART-style attention: queries scaled before the product (Opt's), softmax in the compute type
        CausalAttention attention = ops.causalAttention(new CausalAttention.Spec(config.numAttentionHeads(),
                config.headDim(), 0, false, false, CausalAttention.Precision.COMPUTE_TYPE), in);

        Projection pending = null; // the previous block's MLP output, added to the residual inside the next norm
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "layers." + layer + ".";
            ResidualNorm n1 = Norms.addThenLayerNorm(ops, hidden, pending, h + "self_attn_layer_norm", e,
                    LAYER_NORM_EPS);
            Projection attn = Opt.attention(ops, config, true, layer, h + "self_attn.", n1.normed(), attention, cache);
            ResidualNorm n2 = Norms.addThenLayerNorm(ops, n1.sum(), attn, h + "final_layer_norm", e, LAYER_NORM_EPS);
            hidden = n2.sum();
            pending = Linear.project(ops, Linear.applyThenActivate(ops, n2.normed(), h + "fc1", e, inner, activation),
                    h + "fc2", inner, e);
        }
        hidden = Norms.addThenLayerNorm(ops, hidden, pending, p + "layer_norm", e, LAYER_NORM_EPS).normed();

        Tensor head = ops.weightOr("output_projection.weight", embedTokens, config.vocabSize(), e);
        return LmHead.logits(ops, in, hidden, head);
    }

    /** {@code tiny} and {@code biogpt} ({@code microsoft/biogpt}, 347M). */
    @Override
    public Map<String, JsonObject> randomPresets() {
        return ConfigJson.presets(Map.entry("tiny", preset(1000, 64, 256, 2, 4, 128)),
                Map.entry("biogpt", preset(42384, 1024, 4096, 24, 16, 1024)));
    }

    /** The keys BioGptConfig.save_pretrained writes, sorted; bos {@code <s>} = 0, pad = 1, eos {@code </s>} = 2. */
    private static JsonObject preset(int vocab, int hidden, int intermediate, int layers, int heads, int positions) {
        return ConfigJson.of("activation_dropout", 0.0, "architectures", List.of("BioGptForCausalLM"),
                "attention_probs_dropout_prob", 0.1, "bos_token_id", 0, "eos_token_id", 2, "hidden_act", "gelu",
                "hidden_dropout_prob", 0.1, "hidden_size", hidden, "initializer_range", 0.02,
                "intermediate_size", intermediate, "layer_norm_eps", new BigDecimal("1e-12"), "layerdrop", 0.0,
                "max_position_embeddings", positions, "model_type", "biogpt", "num_attention_heads", heads,
                "num_hidden_layers", layers, "pad_token_id", 1, "scale_embedding", true, "torch_dtype", "float32",
                "use_cache", true, "vocab_size", vocab);
    }
}
