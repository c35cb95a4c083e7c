package dev.stepwise.models;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.RmsNorm;
import dev.stepwise.runtime.model.layers.RotaryEmbedding;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.ArrayList;
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
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config);

        Tensor embedTokens = ops.weight(MODEL + "embed_tokens.weight");
        Tensor hidden = ops.gather(embedTokens, in.inputIds());
        Tensor mask = AttentionMask.causal(ops, in, slidingWindow(config));
        RotaryEmbedding.CosSin cosSin = rope.cosSin(ops, in.positionIds(), ops.dim(in.attentionMask(), 1));

        for (int layer = 0; layer < config.numLayers(); layer++) {
            String l = MODEL + "layers." + layer + ".";
            Tensor normed = RmsNorm.apply(ops, hidden, ops.weight(l + "input_layernorm.weight"), eps);
            hidden = ops.add(hidden, attention(ops, config, layer, l + "self_attn.", normed, mask, rope, cosSin, cache));
            normed = RmsNorm.apply(ops, hidden, ops.weight(l + "post_attention_layernorm.weight"), eps);
            hidden = ops.add(hidden, mlp(ops, config, activation, l + "mlp.", normed));
        }
        hidden = RmsNorm.apply(ops, hidden, ops.weight(MODEL + "norm.weight"), eps);

        Tensor lmHead = tied(config) ? embedTokens : ops.weight("lm_head.weight");
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    private static Tensor attention(Ops ops, ModelConfig config, int layer, String w, Tensor x, Tensor mask,
                                    RotaryEmbedding rope, RotaryEmbedding.CosSin cosSin, KvCache cache) {
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int headDim = config.headDim();
        boolean bias = config.getBoolean("attention_bias", false);
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);

        Tensor query = splitHeads(ops, linear(ops, x, w + "q_proj", bias), batch, sequence, heads, headDim);
        Tensor key = splitHeads(ops, linear(ops, x, w + "k_proj", bias), batch, sequence, kvHeads, headDim);
        Tensor value = splitHeads(ops, linear(ops, x, w + "v_proj", bias), batch, sequence, kvHeads, headDim);
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
        context = ops.reshape(ops.transpose(context, 0, 2, 1, 3), batch, sequence, Dim.of((long) heads * headDim));
        return linear(ops, context, w + "o_proj", bias);
    }

    /** {@code [B, S, heads * D]} → {@code [B, heads, S, D]}. */
    private static Tensor splitHeads(Ops ops, Tensor x, Dim batch, Dim sequence, int heads, int headDim) {
        return ops.transpose(ops.reshape(x, batch, sequence, Dim.of(heads), Dim.of(headDim)), 0, 2, 1, 3);
    }

    /** SwiGLU: {@code down(act(gate(x)) * up(x))}. */
    private static Tensor mlp(Ops ops, ModelConfig config, String activation, String w, Tensor x) {
        boolean bias = config.getBoolean("mlp_bias", false);
        Tensor gate = Activations.apply(ops, activation, linear(ops, x, w + "gate_proj", bias));
        return linear(ops, ops.mul(gate, linear(ops, x, w + "up_proj", bias)), w + "down_proj", bias);
    }

    /** {@code nn.Linear}: {@code x @ W^T (+ b)} with {@code W} stored {@code [out, in]}. */
    private static Tensor linear(Ops ops, Tensor x, String name, boolean bias) {
        Tensor y = ops.matmul(x, ops.weightTransposed(name + ".weight"));
        return bias ? ops.add(y, ops.weight(name + ".bias")) : y;
    }

    /** LlamaConfig's default is an untied head; when tied, {@code lm_head.weight} (if saved at all) is the embedding. */
    static boolean tied(ModelConfig config) {
        return config.getBoolean("tie_word_embeddings", false);
    }

    @Override
    public List<WeightSpec> expectedWeights(ModelConfig config) {
        String where = config.source().toString();
        Activations.check(config.getString("hidden_act", "silu"), where);
        RotaryEmbedding.fromConfig(config); // a bad rope_scaling fails before anything is traced
        if (config.headDim() % 2 != 0) {
            throw new StepwiseException(where + ": head dim " + config.headDim() + " must be even for rotary embeddings");
        }
        if (slidingWindow(config) < 0) {
            throw new StepwiseException(where + ": sliding_window must be positive or null, got " + slidingWindow(config));
        }
        long hidden = config.hiddenSize();
        long vocab = config.vocabSize();
        long qOut = (long) config.numAttentionHeads() * config.headDim();
        long kvOut = (long) config.numKeyValueHeads() * config.headDim();
        long inter = config.getInt("intermediate_size");
        boolean attentionBias = config.getBoolean("attention_bias", false);
        boolean mlpBias = config.getBoolean("mlp_bias", false);

        List<WeightSpec> w = new ArrayList<>();
        w.add(WeightSpec.required(MODEL + "embed_tokens.weight", vocab, hidden));
        for (int i = 0; i < config.numLayers(); i++) {
            String l = MODEL + "layers." + i + ".";
            w.add(WeightSpec.required(l + "input_layernorm.weight", hidden));
            addLinear(w, l + "self_attn.q_proj", qOut, hidden, attentionBias);
            addLinear(w, l + "self_attn.k_proj", kvOut, hidden, attentionBias);
            addLinear(w, l + "self_attn.v_proj", kvOut, hidden, attentionBias);
            addLinear(w, l + "self_attn.o_proj", hidden, qOut, attentionBias);
            w.add(WeightSpec.required(l + "post_attention_layernorm.weight", hidden));
            addLinear(w, l + "mlp.gate_proj", inter, hidden, mlpBias);
            addLinear(w, l + "mlp.up_proj", inter, hidden, mlpBias);
            addLinear(w, l + "mlp.down_proj", hidden, inter, mlpBias);
        }
        w.add(WeightSpec.required(MODEL + "norm.weight", hidden));
        w.add(tied(config) ? WeightSpec.optional("lm_head.weight", vocab, hidden)
                : WeightSpec.required("lm_head.weight", vocab, hidden));
        return w;
    }

    private static void addLinear(List<WeightSpec> w, String name, long out, long in, boolean bias) {
        w.add(WeightSpec.required(name + ".weight", out, in));
        if (bias) {
            w.add(WeightSpec.required(name + ".bias", out));
        }
    }
}
