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
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.RmsNorm;
import dev.stepwise.runtime.model.layers.RotaryEmbedding;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
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
        Tensor mask = AttentionMask.causal(ops, in, slidingWindow(config));
        RotaryEmbedding.CosSin cosSin = rope.cosSin(ops, in.positionIds(), ops.dim(in.attentionMask(), 1));

        for (int layer = 0; layer < config.numLayers(); layer++) {
            String l = MODEL + "layers." + layer + ".";
            Tensor normed = RmsNorm.apply(ops, hidden, l + "input_layernorm", width, eps);
            hidden = ops.add(hidden, attention(ops, config, layer, l + "self_attn.", normed, mask, rope, cosSin, cache));
            normed = RmsNorm.apply(ops, hidden, l + "post_attention_layernorm", width, eps);
            hidden = ops.add(hidden, mlp(ops, config, activation, l + "mlp.", normed));
        }
        hidden = RmsNorm.apply(ops, hidden, MODEL + "norm", width, eps);

        Tensor lmHead = tied(config) ? ops.tiedWeight("lm_head.weight", embedTokens, vocab, width)
                : ops.weight("lm_head.weight", vocab, width);
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    private static Tensor attention(Ops ops, ModelConfig config, int layer, String w, Tensor x, Tensor mask,
                                    RotaryEmbedding rope, RotaryEmbedding.CosSin cosSin, KvCache cache) {
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int headDim = config.headDim();
        boolean bias = config.getBoolean("attention_bias", false);
        long width = config.hiddenSize();
        long qOut = (long) heads * headDim;
        long kvOut = (long) kvHeads * headDim;
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);

        Tensor query = splitHeads(ops, Linear.apply(ops, x, w + "q_proj", width, qOut, bias), batch, sequence, heads,
                headDim);
        Tensor key = splitHeads(ops, Linear.apply(ops, x, w + "k_proj", width, kvOut, bias), batch, sequence, kvHeads,
                headDim);
        Tensor value = splitHeads(ops, Linear.apply(ops, x, w + "v_proj", width, kvOut, bias), batch, sequence, kvHeads,
                headDim);
        query = rope.apply(ops, query, cosSin);
        key = rope.apply(ops, key, cosSin);
        if (cache.hasPast()) {
            key = ops.concat(2, cache.pastKey(layer), key);
            value = ops.concat(2, cache.pastValue(layer), value);
        }
        cache.setPresent(layer, key, value);

        Tensor scale = ops.scalar((float) (1.0 / Math.sqrt(headDim)));
        Tensor context;                                                                   // [B, H, S, D]
        if (kvHeads == heads) {
            Tensor scores = ops.mul(ops.matmul(query, ops.transpose(key, 0, 1, 3, 2)), scale);
            Tensor probs = AttentionMask.softmaxInFloat32(ops, AttentionMask.apply(ops, scores, mask));
            context = ops.matmul(probs, value);
        } else {
            // [B, KV, n_rep, S, D] queries against [B, KV, 1, T, D] keys: each KV head serves its n_rep query heads.
            int groups = heads / kvHeads;
            Tensor grouped = ops.reshape(query, batch, Dim.of(kvHeads), Dim.of(groups), sequence, Dim.of(headDim));
            Tensor keys = ops.transpose(ops.unsqueeze(key, 2), 0, 1, 2, 4, 3);          // [B, KV, 1, D, T]
            Tensor scores = ops.mul(ops.matmul(grouped, keys), scale);                   // [B, KV, n_rep, S, T]
            Tensor probs = AttentionMask.softmaxInFloat32(ops, AttentionMask.apply(ops, scores, ops.unsqueeze(mask, 1)));
            Tensor out = ops.matmul(probs, ops.unsqueeze(value, 2));                     // [B, KV, n_rep, S, D]
            context = ops.reshape(out, batch, Dim.of(heads), sequence, Dim.of(headDim));
        }
        context = ops.reshape(ops.transpose(context, 0, 2, 1, 3), batch, sequence, Dim.of(qOut));
        return Linear.apply(ops, context, w + "o_proj", qOut, width, bias);
    }

    /** {@code [B, S, heads * D]} → {@code [B, heads, S, D]}. */
    private static Tensor splitHeads(Ops ops, Tensor x, Dim batch, Dim sequence, int heads, int headDim) {
        return ops.transpose(ops.reshape(x, batch, sequence, Dim.of(heads), Dim.of(headDim)), 0, 2, 1, 3);
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
