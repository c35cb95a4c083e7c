package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.Seq2SeqConfig;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
import dev.stepwise.runtime.model.Seq2SeqLm;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.WeightInit;

/**
 * T5 (and T5 v1.1), as transformers' {@code T5ForConditionalGeneration} computes it: no position embeddings but a
 * relative position bias, computed in the first layer of each stack from bucketed key-minus-query distances and
 * added to every layer's scores (bidirectional buckets in the encoder, causal ones in the decoder; none in the
 * cross-attention); unscaled dot-product attention; T5's RMS LayerNorm (no mean, no bias) before each sub-layer and
 * after each stack; a ReLU or gated (gelu_new) feed-forward; and the head tied to the shared embeddings, the decoder
 * output scaled by {@code d_model**-0.5} when the config says so ({@code scale_decoder_outputs}, which transformers
 * derives from a saved {@code tie_word_embeddings}).
 */
@Seq2SeqConfig(modelType = "t5", opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "num_layers", numAttentionHeads = "num_heads", hiddenSize = "d_model",
                maxPositions = ""))
public final class T5 implements Seq2SeqLm {

    @Override
    public Tensor encode(Ops ops, ModelConfig config, EncoderInputs in) {
        long h = config.hiddenSize();
        int heads = config.numAttentionHeads();
        Tensor x = ops.gather(shared(ops, config), in.inputIds());
        Dim sequence = ops.dim(in.inputIds(), 1);
        Tensor bias = positionBias(ops, config, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                Dim.of(0), sequence, sequence, true);
        Tensor mask = ops.unsqueeze(ops.greater(in.attentionMask(), ops.longs(0)), 1, 2);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String l = "encoder.block." + layer + ".layer.";
            Tensor n = norm(ops, config, x, l + "0.layer_norm.weight");
            Tensor q = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.q", h, inner(config), false), heads);
            Tensor k = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.k", h, inner(config), false), heads);
            Tensor v = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.v", h, inner(config), false), heads);
            x = ops.add(x, attend(ops, config, q, k, v, bias, mask, l + "0.SelfAttention.o"));
            x = ops.add(x, feedForward(ops, config, norm(ops, config, x, l + "1.layer_norm.weight"), l + "1."));
        }
        return norm(ops, config, x, "encoder.final_layer_norm.weight");
    }

    @Override
    public Tensor decode(Ops ops, ModelConfig config, Seq2SeqDecoderInputs in, KvCache selfCache,
                         KvCache crossCache) {
        long h = config.hiddenSize();
        long inner = inner(config);
        int heads = config.numAttentionHeads();
        Tensor x = ops.gather(shared(ops, config), in.inputIds());
        Dim sequence = ops.dim(in.inputIds(), 1);
        Dim past = selfCache.pastLength(ops);
        Dim total = ops.add(past, sequence);
        Tensor bias = positionBias(ops, config, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                past, total, total, false);
        Tensor causal = ops.unsqueeze(ops.lessOrEqual(ops.unsqueeze(ops.range(Dim.of(0), total), 0),
                ops.unsqueeze(ops.range(past, total), 1)), 0, 1);
        Tensor encoderMask = ops.unsqueeze(ops.greater(in.encoderAttentionMask(), ops.longs(0)), 1, 2);
        for (int layer = 0; layer < decoderLayers(config); layer++) {
            String l = "decoder.block." + layer + ".layer.";
            Tensor n = norm(ops, config, x, l + "0.layer_norm.weight");
            Tensor q = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.q", h, inner, false), heads);
            Tensor k = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.k", h, inner, false), heads);
            Tensor v = split(ops, Linear.apply(ops, n, l + "0.SelfAttention.v", h, inner, false), heads);
            KvCache.KeyValue self = selfCache.append(ops, layer, k, v);
            x = ops.add(x, attend(ops, config, q, self.key(), self.value(), bias, causal, l + "0.SelfAttention.o"));

            n = norm(ops, config, x, l + "1.layer_norm.weight");
            Tensor cq = split(ops, Linear.apply(ops, n, l + "1.EncDecAttention.q", h, inner, false), heads);
            KvCache.KeyValue cross = crossCache.cross(ops, layer, in.encoderHiddenStates(),
                    e -> split(ops, Linear.apply(ops, e, l + "1.EncDecAttention.k", h, inner, false), heads),
                    e -> split(ops, Linear.apply(ops, e, l + "1.EncDecAttention.v", h, inner, false), heads));
            x = ops.add(x, attend(ops, config, cq, cross.key(), cross.value(), null, encoderMask, l + "1.EncDecAttention.o"));
            x = ops.add(x, feedForward(ops, config, norm(ops, config, x, l + "2.layer_norm.weight"), l + "2."));
        }
        x = norm(ops, config, x, "decoder.final_layer_norm.weight");
        if (scalesDecoderOutput(config)) {
            x = ops.mul(x, ops.scalar((float) Math.pow(h, -0.5)));
        }
        long vocab = config.vocabSize();
        return ops.matmulTransposedB(x, ops.weightOr("lm_head.weight", shared(ops, config), vocab, h));
    }

    @Override
    public int decoderLayers(ModelConfig config) {
        return config.getInt("num_decoder_layers", config.numLayers());
    }

    /**
     * Original T5 scales the decoder output before its tied head, v1.1 does not: transformers reads
     * {@code scale_decoder_outputs}, which it sets from a saved {@code tie_word_embeddings} (scaled unless that is
     * false).
     */
    static boolean scalesDecoderOutput(ModelConfig config) {
        return config.has("scale_decoder_outputs") ? config.getBoolean("scale_decoder_outputs", true)
                : config.getBoolean("tie_word_embeddings", true);
    }

    private static long inner(ModelConfig config) {
        return (long) config.numAttentionHeads() * config.getInt("d_kv");
    }

    private static Tensor shared(Ops ops, ModelConfig config) {
        return ops.weight("shared.weight", config.vocabSize(), config.hiddenSize());
    }

    /** {@code T5LayerNorm}: {@code x / sqrt(mean(x^2) + eps) * weight}, no mean subtracted and no bias. */
    private static Tensor norm(Ops ops, ModelConfig config, Tensor x, String weight) {
        float eps = (float) config.getDouble("layer_norm_epsilon", 1e-6);
        Tensor variance = ops.reduceMean(ops.mul(x, x), -1, true);
        Tensor normed = ops.div(x, ops.sqrt(ops.add(variance, ops.scalar(eps))));
        return ops.mul(normed, ops.weight(weight, WeightInit.SCALE, config.hiddenSize()));
    }

    /** {@code [B, S, heads*D]} → {@code [B, heads, S, D]}. */
    private static Tensor split(Ops ops, Tensor x, int heads) {
        long width = ops.dim(x, 2).value();
        return ops.transpose(ops.reshape(x, ops.dim(x, 0), ops.dim(x, 1), Dim.of(heads), Dim.of(width / heads)),
                0, 2, 1, 3);
    }

    /** T5 attention: unscaled scores plus the position bias (when given), masked, softmax, merged, projected. */
    private static Tensor attend(Ops ops, ModelConfig config, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor mask,
                                 String out) {
        Tensor scores = ops.matmul(q, ops.transpose(k, 0, 1, 3, 2));
        if (bias != null) {
            scores = ops.add(scores, bias);
        }
        Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
        Tensor context = ops.transpose(ops.matmul(probs, v), 0, 2, 1, 3);
        long inner = inner(config);
        Tensor merged = ops.reshape(context, ops.dim(q, 0), ops.dim(q, 2), Dim.of(inner));
        return Linear.apply(ops, merged, out, inner, config.hiddenSize(), false);
    }

    /** {@code T5DenseActDense} ({@code wo(act(wi x))}) or, gated, {@code T5DenseGatedActDense} ({@code wo(act(wi_0 x) * wi_1 x)}). */
    private static Tensor feedForward(Ops ops, ModelConfig config, Tensor x, String l) {
        String proj = config.getString("feed_forward_proj", "relu");
        boolean gated = proj.startsWith("gated-");
        String act = gated ? proj.substring("gated-".length()) : proj;
        if (act.equals("gelu") && gated) {
            act = "gelu_new"; // transformers: "for backwards compatibility", gated-gelu is the tanh approximation
        }
        Activations.check(act, config.source().toString());
        long h = config.hiddenSize();
        long ff = config.getInt("d_ff");
        String w = l + "DenseReluDense.";
        Tensor inner = gated
                ? ops.mul(Activations.apply(ops, act, Linear.apply(ops, x, w + "wi_0", h, ff, false)),
                        Linear.apply(ops, x, w + "wi_1", h, ff, false))
                : Activations.apply(ops, act, Linear.apply(ops, x, w + "wi", h, ff, false));
        return Linear.apply(ops, inner, w + "wo", ff, h, false);
    }

    /**
     * The relative position bias {@code [1, heads, Q, K]} for queries at {@code queryStart .. queryEnd - 1} and keys at
     * {@code 0 .. keys - 1}. Every distance beyond {@code relative_attention_max_distance} falls in the last bucket, so
     * the distance is clipped to {@code ±max_distance} and looked up in a table of the bias row of each clipped
     * distance: the bucket arithmetic (a log) happens here, on the host, once per export.
     */
    private static Tensor positionBias(Ops ops, ModelConfig config, String weight, Dim queryStart, Dim queryEnd,
                                       Dim keys, boolean bidirectional) {
        int buckets = config.getInt("relative_attention_num_buckets", 32);
        int maxDistance = config.getInt("relative_attention_max_distance", 128);
        int heads = config.numAttentionHeads();
        long[] bucketOf = new long[2 * maxDistance + 1];
        for (int i = 0; i < bucketOf.length; i++) {
            bucketOf[i] = bucket(i - maxDistance, bidirectional, buckets, maxDistance);
        }
        Tensor table = ops.gather(ops.weight(weight, buckets, heads), ops.longs(bucketOf));    // [2D+1, H]
        Tensor relative = ops.sub(ops.unsqueeze(ops.range(Dim.of(0), keys), 0),
                ops.unsqueeze(ops.range(queryStart, queryEnd), 1));                              // [Q, K]
        Tensor high = ops.longs(maxDistance);
        Tensor low = ops.longs(-maxDistance);
        relative = ops.where(ops.greater(relative, high), high, relative);
        relative = ops.where(ops.greater(low, relative), low, relative);
        Tensor bias = ops.gather(table, ops.add(relative, high));                                // [Q, K, H]
        return ops.unsqueeze(ops.transpose(bias, 2, 0, 1), 0);
    }

    /** transformers' {@code _relative_position_bucket} for one distance (key − query), its log in float32. */
    static long bucket(long relative, boolean bidirectional, int buckets, int maxDistance) {
        long result = 0;
        long n;
        int b = buckets;
        if (bidirectional) {
            b /= 2;
            if (relative > 0) {
                result += b;
            }
            n = Math.abs(relative);
        } else {
            n = Math.max(-relative, 0);
        }
        int maxExact = b / 2;
        if (n < maxExact) {
            return result + n;
        }
        float scaled = (float) Math.log((float) n / maxExact) / (float) Math.log((double) maxDistance / maxExact)
                * (b - maxExact);
        return result + Math.min(maxExact + (long) scaled, b - 1);
    }
}
