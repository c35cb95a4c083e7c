package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.RmsNorm;
import dev.stepwise.runtime.model.layers.RotaryAttention;
import dev.stepwise.runtime.model.layers.RotaryEmbedding;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The forward shared by LLaMA and the checkpoints that use its layout (Mistral), as transformers'
 * {@code LlamaForCausalLM} computes it: token embedding; per layer RMSNorm → attention with rotary embeddings on q and
 * k and grouped-query heads → residual, RMSNorm → SwiGLU MLP → residual; final RMSNorm; LM head (or the token
 * embedding when tied). Linear weights are stored {@code [out, in]}.
 *
 * <p>Grouped-query attention: the cache holds the {@code num_key_value_heads} heads only. Each key/value head serves
 * {@code num_attention_heads / num_key_value_heads} query heads, as transformers' {@code repeat_kv} arranges them
 * (query head {@code h} reads key/value head {@code h / n_rep}); the repetition is done by broadcasting in the two
 * batched products rather than by copying keys and values.
 *
 * <p>In a float16 forward, as in transformers: RMSNorm normalizes in float32, rotary cos/sin are computed in float32,
 * and the attention softmax runs in float32 ({@code softmax(..., dtype=torch.float32)}); the rest is float16.
 */
abstract class LlamaFamily implements CausalLm {
    private static final String MODEL = "model.";

    /** Keys see only the last {@code window} positions (the query's own included); 0 for full causal attention. */
    abstract int slidingWindow(ModelConfig config);

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        float eps = (float) config.getDouble("rms_norm_eps", 1e-6);
        String activation = config.getString("hidden_act", "silu");
        String where = config.source().toString();
        Activations.check(activation, where);
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config); // bad rope_scaling: fails in the shape-only run
        if (config.headDim() % 2 != 0) {
            throw new StepwiseException(where + ": head dim " + config.headDim() + " must be even for rotary embeddings");
        }
        if (slidingWindow(config) < 0) {
            throw new StepwiseException(where + ": sliding_window must be positive or null, got " + slidingWindow(config));
        }
        long width = config.hiddenSize();
        long vocab = config.vocabSize();

        Tensor embedTokens = ops.weight(MODEL + "embed_tokens.weight", vocab, width);
        Tensor hidden = ops.gather(embedTokens, in.inputIds());
        RotaryAttention attention = ops.rotaryAttention(new RotaryAttention.Spec(config.numAttentionHeads(),
                config.numKeyValueHeads(), config.headDim(), rope, slidingWindow(config)), in);

        // Each block's output is added to the residual stream together with the next norm (one fused node in an
        // ORT export): `pending` is the output not yet added, null before the first block.
        Tensor pending = null;
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String l = MODEL + "layers." + layer + ".";
            ResidualNorm input = RmsNorm.addThenApply(ops, hidden, pending, l + "input_layernorm", width, eps);
            Tensor attended = attention(ops, config, l + "self_attn.", input.normed(), attention, cache, layer);
            ResidualNorm post = RmsNorm.addThenApply(ops, input.sum(), attended, l + "post_attention_layernorm",
                    width, eps);
            hidden = post.sum();
            pending = mlp(ops, config, activation, l + "mlp.", post.normed());
        }
        hidden = RmsNorm.addThenApply(ops, hidden, pending, MODEL + "norm", width, eps).normed();

        Tensor lmHead = tied(config) ? ops.tiedWeight("lm_head.weight", embedTokens, vocab, width)
                : ops.weight("lm_head.weight", vocab, width);
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    /** The projections around {@link RotaryAttention}: {@code o_proj(attention(q_proj(x), k_proj(x), v_proj(x)))}. */
    private static Tensor attention(Ops ops, ModelConfig config, String w, Tensor x, RotaryAttention attention,
                                    KvCache cache, int layer) {
        boolean bias = config.getBoolean("attention_bias", false);
        long width = config.hiddenSize();
        long qOut = (long) config.numAttentionHeads() * config.headDim();
        long kvOut = (long) config.numKeyValueHeads() * config.headDim();
        Tensor context = attention.apply(() -> Linear.apply(ops, x, w + "q_proj", width, qOut, bias),
                () -> Linear.apply(ops, x, w + "k_proj", width, kvOut, bias),
                () -> Linear.apply(ops, x, w + "v_proj", width, kvOut, bias), cache, layer);
        return Linear.apply(ops, context, w + "o_proj", qOut, width, bias);
    }

    /** SwiGLU: {@code down(act(gate(x)) * up(x))}. */
    private static Tensor mlp(Ops ops, ModelConfig config, String activation, String w, Tensor x) {
        boolean bias = config.getBoolean("mlp_bias", false);
        long width = config.hiddenSize();
        long inter = config.getInt("intermediate_size");
        Tensor gate = Activations.apply(ops, activation, Linear.apply(ops, x, w + "gate_proj", width, inter, bias));
        return Linear.apply(ops, ops.mul(gate, Linear.apply(ops, x, w + "up_proj", width, inter, bias)),
                w + "down_proj", inter, width, bias);
    }

    /** LlamaConfig's default is an untied head; when tied, {@code lm_head.weight} (if saved at all) is the embedding. */
    static boolean tied(ModelConfig config) {
        return config.getBoolean("tie_word_embeddings", false);
    }

    /**
     * One size of a random checkpoint: {@code headDim} is written as {@code head_dim}; {@code ropeScaling} may be
     * null; {@code slidingWindow} is Mistral's (null = full attention).
     */
    record Preset(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim,
                  int maxPositions, double ropeTheta, String rmsNormEps, JsonObject ropeScaling, boolean tied,
                  boolean attentionBias, boolean mlpBias, long bos, long eos, Integer slidingWindow) {
    }

    /**
     * The keys LlamaConfig / MistralConfig.save_pretrained writes for a preset, sorted as transformers sorts them:
     * MistralConfig has no attention_bias, mlp_bias, pretraining_tp or rope_scaling, and has sliding_window.
     */
    static JsonObject config(String modelType, String architecture, Preset p) {
        boolean mistral = modelType.equals("mistral");
        List<Object> c = new ArrayList<>(List.of("architectures", List.of(architecture)));
        if (!mistral) {
            c.addAll(List.of("attention_bias", p.attentionBias()));
        }
        c.addAll(List.of("attention_dropout", 0.0, "bos_token_id", p.bos(), "eos_token_id", p.eos(),
                "head_dim", p.headDim(), "hidden_act", "silu", "hidden_size", p.hidden(), "initializer_range", 0.02,
                "intermediate_size", p.intermediate(), "max_position_embeddings", p.maxPositions()));
        if (!mistral) {
            c.addAll(List.of("mlp_bias", p.mlpBias()));
        }
        c.addAll(List.of("model_type", modelType, "num_attention_heads", p.heads(), "num_hidden_layers", p.layers(),
                "num_key_value_heads", p.kvHeads()));
        if (!mistral) {
            c.addAll(List.of("pretraining_tp", 1));
        }
        c.addAll(List.of("rms_norm_eps", new BigDecimal(p.rmsNormEps()))); // BigDecimal keeps "1.0E-5" out of the file
        if (!mistral) {
            c.addAll(Arrays.asList("rope_scaling", p.ropeScaling()));
        }
        c.addAll(List.of("rope_theta", p.ropeTheta()));
        if (mistral) {
            c.addAll(Arrays.asList("sliding_window", p.slidingWindow()));
        }
        c.addAll(List.of("tie_word_embeddings", p.tied(), "torch_dtype", "float32", "use_cache", true,
                "vocab_size", p.vocab()));
        return ConfigJson.of(c.toArray());
    }
}
