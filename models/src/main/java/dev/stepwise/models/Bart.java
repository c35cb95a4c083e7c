package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DecoderGraph;
import dev.stepwise.annotations.Seq2SeqConfig;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
import dev.stepwise.runtime.model.Seq2SeqLm;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * BART, as transformers' {@code BartForConditionalGeneration} computes it: token embeddings shared by encoder, decoder
 * and head (scaled by {@code sqrt(d_model)} when {@code scale_embedding}), learned positions offset by 2, a LayerNorm
 * on the embeddings ({@code layernorm_embedding}), post-LayerNorm blocks, exact GELU, and the head tied to the shared
 * embeddings plus {@code final_logits_bias}. The decoder's contract is {@link DecoderGraph}'s default: optimum's.
 */
@Seq2SeqConfig(modelType = "bart", opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "decoder_layers", numAttentionHeads = "decoder_attention_heads",
                hiddenSize = "d_model"))
public final class Bart implements Seq2SeqLm {
    /** {@code BartLearnedPositionalEmbedding}: row {@code position + 2} (the first two rows are padding's legacy). */
    private static final long POSITION_OFFSET = 2;
    private static final float EPS = 1e-5f;

    @Override
    public Tensor encode(Ops ops, ModelConfig config, EncoderInputs in) {
        check(config);
        long h = config.hiddenSize();
        int heads = config.getInt("encoder_attention_heads");
        long ffn = config.getInt("encoder_ffn_dim");
        Tensor x = embed(ops, config, "model.encoder.", in.inputIds(), Dim.of(0));
        // [B, 1, 1, S]: every token sees every real token of its row
        Tensor mask = ops.unsqueeze(ops.greater(in.attentionMask(), ops.longs(0)), 1, 2);
        for (int layer = 0; layer < config.getInt("encoder_layers"); layer++) {
            String l = "model.encoder.layers." + layer + ".";
            Tensor q = heads(ops, Linear.apply(ops, x, l + "self_attn.q_proj", h, h), heads);
            Tensor k = heads(ops, Linear.apply(ops, x, l + "self_attn.k_proj", h, h), heads);
            Tensor v = heads(ops, Linear.apply(ops, x, l + "self_attn.v_proj", h, h), heads);
            x = Norms.layerNorm(ops, ops.add(x, attend(ops, q, k, v, mask, l + "self_attn.out_proj", h)),
                    l + "self_attn_layer_norm", h, EPS);
            x = Norms.layerNorm(ops, ops.add(x, feedForward(ops, config, x, l, h, ffn)), l + "final_layer_norm", h,
                    EPS);
        }
        return x;
    }

    @Override
    public Tensor decode(Ops ops, ModelConfig config, Seq2SeqDecoderInputs in, KvCache selfCache,
                         KvCache crossCache) {
        check(config);
        long h = config.hiddenSize();
        int heads = config.numAttentionHeads();
        long ffn = config.getInt("decoder_ffn_dim");
        Dim sequence = ops.dim(in.inputIds(), 1);
        Dim past = selfCache.pastLength(ops);
        Dim total = ops.add(past, sequence);
        Tensor x = embed(ops, config, "model.decoder.", in.inputIds(), past);
        // [1, 1, S, P + S]: the query at position past + i sees keys 0 .. past + i
        Tensor causal = ops.unsqueeze(ops.lessOrEqual(ops.unsqueeze(ops.range(Dim.of(0), total), 0),
                ops.unsqueeze(ops.range(past, total), 1)), 0, 1);
        Tensor encoderMask = ops.unsqueeze(ops.greater(in.encoderAttentionMask(), ops.longs(0)), 1, 2);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String l = "model.decoder.layers." + layer + ".";
            Tensor q = heads(ops, Linear.apply(ops, x, l + "self_attn.q_proj", h, h), heads);
            Tensor k = heads(ops, Linear.apply(ops, x, l + "self_attn.k_proj", h, h), heads);
            Tensor v = heads(ops, Linear.apply(ops, x, l + "self_attn.v_proj", h, h), heads);
            KvCache.KeyValue self = selfCache.append(ops, layer, k, v);
            x = Norms.layerNorm(ops, ops.add(x, attend(ops, q, self.key(), self.value(), causal,
                    l + "self_attn.out_proj", h)), l + "self_attn_layer_norm", h, EPS);

            Tensor cq = heads(ops, Linear.apply(ops, x, l + "encoder_attn.q_proj", h, h), heads);
            KvCache.KeyValue cross = crossCache.cross(ops, layer, in.encoderHiddenStates(),
                    e -> heads(ops, Linear.apply(ops, e, l + "encoder_attn.k_proj", h, h), heads),
                    e -> heads(ops, Linear.apply(ops, e, l + "encoder_attn.v_proj", h, h), heads));
            x = Norms.layerNorm(ops, ops.add(x, attend(ops, cq, cross.key(), cross.value(), encoderMask,
                    l + "encoder_attn.out_proj", h)), l + "encoder_attn_layer_norm", h, EPS);
            x = Norms.layerNorm(ops, ops.add(x, feedForward(ops, config, x, l, h, ffn)), l + "final_layer_norm", h,
                    EPS);
        }
        long vocab = config.vocabSize();
        Tensor table = ops.weightOr("lm_head.weight", shared(ops, config), vocab, h);
        return ops.add(ops.matmulTransposedB(x, table), ops.weight("final_logits_bias", 1, vocab));
    }

    @Override
    public int decoderLayers(ModelConfig config) {
        return config.numLayers();
    }

    private static void check(ModelConfig config) {
        String where = config.source().toString();
        Activations.check(config.getString("activation_function", "gelu"), where);
        if (config.getBoolean("add_final_layer_norm", false) || config.getBoolean("normalize_before", false)) {
            throw new StepwiseException(where + ": a pre-LayerNorm BART (normalize_before / add_final_layer_norm, mBART's"
                    + " layout) is not supported; expected both false");
        }
    }

    private static Tensor shared(Ops ops, ModelConfig config) {
        return ops.weight("model.shared.weight", config.vocabSize(), config.hiddenSize());
    }

    /** Scaled token embeddings plus learned positions {@code past .. past + S - 1} (offset 2), then LayerNorm. */
    private static Tensor embed(Ops ops, ModelConfig config, String p, Tensor ids, Dim past) {
        long h = config.hiddenSize();
        Tensor x = ops.gather(shared(ops, config), ids);
        if (config.getBoolean("scale_embedding", false)) {
            x = ops.mul(x, ops.scalar((float) Math.sqrt(h)));
        }
        Dim sequence = ops.dim(ids, 1);
        Tensor positions = ops.add(ops.range(past, ops.add(past, sequence)), ops.longs(POSITION_OFFSET));
        Tensor table = ops.weight(p + "embed_positions.weight", config.maxPositions() + POSITION_OFFSET, h);
        x = ops.add(x, ops.unsqueeze(ops.gather(table, positions), 0));
        return Norms.layerNorm(ops, x, p + "layernorm_embedding", h, EPS);
    }

    /** {@code [B, S, heads*D]} → {@code [B, heads, S, D]}. */
    private static Tensor heads(Ops ops, Tensor x, int heads) {
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        long width = ops.dim(x, 2).value();
        Tensor split = ops.reshape(x, batch, sequence, Dim.of(heads), Dim.of(width / heads));
        return ops.transpose(split, 0, 2, 1, 3);
    }

    /** Scaled dot-product attention over {@code [B, H, S, D]} heads, merged and projected by {@code out}. */
    private static Tensor attend(Ops ops, Tensor q, Tensor k, Tensor v, Tensor mask, String out, long h) {
        long headDim = ops.dim(q, 3).value();
        Tensor scores = ops.mul(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)), ops.scalar((float) (1 / Math.sqrt(headDim))));
        Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
        Tensor context = ops.transpose(ops.matmul(probs, v), 0, 2, 1, 3);
        Dim batch = ops.dim(q, 0);
        Dim sequence = ops.dim(q, 2);
        return Linear.apply(ops, ops.reshape(context, batch, sequence, Dim.of(h)), out, h, h);
    }

    private static Tensor feedForward(Ops ops, ModelConfig config, Tensor x, String l, long h, long ffn) {
        Tensor inner = Activations.apply(ops, config.getString("activation_function", "gelu"),
                Linear.apply(ops, x, l + "fc1", h, ffn));
        return Linear.apply(ops, inner, l + "fc2", ffn, h);
    }
}
