package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.EncoderAttention;
import dev.stepwise.runtime.model.layers.RotaryAttention;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * The fused layers of an {@link Optimize#ORT} trace, each one ONNX Runtime contrib node where the composed form
 * ({@link dev.stepwise.runtime.ops.Ops}' defaults) is a chain of standard ones. Contracts as ONNX Runtime 1.22's CPU
 * kernels implement them (pinned by {@code GroupQueryAttentionContractTest}):
 *
 * <ul>
 *   <li>{@code SimplifiedLayerNormalization} (ONNX domain, an ONNX Runtime contrib op) is RMSNorm;
 *       {@code com.microsoft.SkipSimplifiedLayerNormalization} adds the skip first and also outputs the sum
 *       (output 3).</li>
 *   <li>{@code com.microsoft.GroupQueryAttention} takes q/k/v as {@code [B, S, heads * D]}, the past as
 *       {@code [B, kv_heads, P, D]} (optimum's layout) and returns the present as {@code [B, kv_heads, P + S, D]}. It
 *       has no padding mask of its own: {@code seqlens_k} says how long each row is, counted from the left, so a
 *       left-padded row would attend its padding. Here every row is given its full length ({@code seqlens_k = T - 1})
 *       and the padding is masked through {@code attention_bias} ({@code [B, 1, S, T]}: 0, or the lowest float on
 *       padded keys), which 1.22 adds to the scores. Its own rotary ({@code do_rotary}) takes one start position for
 *       every row of a prompt (the first element of {@code position_ids}), which rotates a left-padded row's cached
 *       keys off by its padding; so rotary runs before it, as {@code com.microsoft.RotaryEmbedding} with the
 *       position ids from the inputs (mask cumulative sum − 1) and cos/sin caches {@code [T, D/2]} computed in the graph from the same inverse
 *       frequencies as the plain graph (rope_scaling included). A sliding window of {@code w} positions (the query
 *       included) is {@code local_window_size = w - 1}.</li>
 *   <li>{@code com.microsoft.SkipLayerNormalization} is LayerNorm of {@code input + skip}, the sum its output 3.
 *       {@code com.microsoft.FastGelu} is the tanh approximation of GELU (transformers' gelu_new) of
 *       {@code x + bias}; {@code com.microsoft.BiasGelu} the exact (erf) one.</li>
 *   <li>Learned-position attention (GPT-2, GPT-Neo, OPT) is the same {@code GroupQueryAttention} with as many KV
 *       heads as query heads, no rotary, the layer's own {@code scale} (GPT-Neo's 1, GPT-2's inverse-layer scaling)
 *       and the causal mask, the padding and a local window all in one {@code attention_bias}
 *       {@code [B, 1, S, T]} (0, or the lowest float where the plain graph's mask is false). Being one operator for
 *       every architecture, it gives each the in-place cache ({@code --max-length}); MultiHeadAttention, which
 *       concatenates its present, could not.</li>
 *   <li>Limits of the kernel: float32 only on CPU; several new tokens after a non-empty past only at batch 1
 *       ("batch_size must be 1 when sequence_length &gt; 1 and past context is given"); a padded query's own output
 *       (never read: its key is masked for every later token, and generation reads the last position) differs from
 *       the plain graph's, which spreads such a query over every key.</li>
 * </ul>
 */
final class OrtFusions {
    static final String DOMAIN = "com.microsoft";

    private final TracingOps ops;

    OrtFusions(TracingOps ops) {
        this.ops = ops;
    }

    Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        return ops.emit("", "SimplifiedLayerNormalization", List.of(x, weight), List.of(x.type()),
                List.<Dim[]>of(((TracedTensor) x).dims()), Attributes.of("axis", -1L), Attributes.of("epsilon", eps),
                Attributes.of("stash_type", 1L)).get(0);
    }

    ResidualNorm addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps) {
        Dim[] dims = TracingOps.broadcast(((TracedTensor) residual).dims(), ((TracedTensor) delta).dims());
        // outputs: normalized, mean, inverse std (both unused), residual + delta
        List<TracedTensor> out = ops.emit(DOMAIN, "SkipSimplifiedLayerNormalization", List.of(residual, delta, weight),
                List.of(residual.type(), DType.FLOAT, DType.FLOAT, residual.type()),
                java.util.Arrays.asList(dims, null, null, dims), Attributes.of("epsilon", eps));
        return new ResidualNorm(out.get(3), out.get(0));
    }

    RotaryAttention rotaryAttention(RotaryAttention.Spec spec, DecoderInputs in) {
        Tensor mask = in.attentionMask();
        Dim batch = ops.dim(in.inputIds(), 0);
        Dim sequence = ops.dim(in.inputIds(), 1);
        Dim total = ops.dim(mask, 1);
        CacheLengths lengths = cacheLengths(in);
        DType type = ops.floatType();
        Tensor keyBias = ops.unsqueeze(ops.where(ops.greater(mask, ops.longs(0)), ops.scalar(0f),
                ops.scalar(AttentionMask.lowest(type))), 1, 2);                             // [B, 1, 1, T]
        Tensor biasShape = ops.concat(0, ops.dimTensor(batch), ops.longs(1), ops.dimTensor(sequence),
                ops.dimTensor(total));
        Tensor bias = ops.emit("", "Expand", List.of(keyBias, biasShape), List.of(type),
                List.<Dim[]>of(new Dim[] {batch, Dim.of(1), sequence, total})).get(0);     // [B, 1, S, T]

        // cos/sin of every slot's angle, [T, D/2]: the plain graph's float32 steps at each position
        Tensor slots = ops.unsqueeze(ops.cast(ops.range(Dim.of(0), total), DType.FLOAT), 1);
        Tensor angles = ops.mul(slots, spec.rope().inverseFrequencies(ops, total));
        Tensor cos = ops.cast(ops.cos(angles), type);
        Tensor sin = ops.cast(ops.sin(angles), type);
        Tensor positions = in.positionIds();

        return (query, key, value, cache, layer) -> groupQueryAttention(
                rotary(query.get(), spec.heads(), positions, cos, sin),
                rotary(key.get(), spec.kvHeads(), positions, cos, sin), value.get(), cache, layer, spec.heads(),
                spec.kvHeads(), spec.headDim(), 1.0 / Math.sqrt(spec.headDim()), spec.window(), lengths, bias, total);
    }

    /** GroupQueryAttention's length inputs: every row's last slot ({@code [B]} int32) and the total length. */
    private record CacheLengths(Tensor seqlensK, Tensor totalLength) {
    }

    /** Every row is given the full length {@code T}; padding is masked by the attention bias instead. */
    private CacheLengths cacheLengths(DecoderInputs in) {
        Dim batch = ops.dim(in.inputIds(), 0);
        Dim total = ops.dim(in.attentionMask(), 1);
        Tensor lastSlot = ops.sub(ops.dimTensor(total), ops.longs(1));
        Tensor seqlensK = ops.cast(ops.emit("", "Expand", List.of(lastSlot, ops.dimTensor(batch)),
                List.of(DType.INT64), List.<Dim[]>of(new Dim[] {batch})).get(0), DType.INT32);
        Tensor totalLength = ops.cast(ops.emit("", "Reshape", List.of(ops.dimTensor(total), ops.longs()),
                List.of(DType.INT64), List.<Dim[]>of(new Dim[0])).get(0), DType.INT32);
        return new CacheLengths(seqlensK, totalLength);
    }

    /**
     * One layer's {@code GroupQueryAttention} on projections {@code [B, S, heads * D]} (rotary, if any, already
     * applied), the past from {@code cache} and the present recorded there; {@code window} as
     * {@link CausalAttention.Spec#window()}, 0 for none.
     */
    private Tensor groupQueryAttention(Tensor q, Tensor k, Tensor v, KvCache cache, int layer, int heads, int kvHeads,
                                       int headDim, double scale, int window, CacheLengths lengths, Tensor bias,
                                       Dim total) {
        Dim batch = ops.dim(q, 0);
        Dim[] presentDims = {batch, Dim.of(kvHeads), total, Dim.of(headDim)};
        Tensor none = null;
        List<Tensor> inputs = Arrays.asList(q, k, v,
                cache.hasPast() ? cache.pastKey(layer) : none, cache.hasPast() ? cache.pastValue(layer) : none,
                lengths.seqlensK(), lengths.totalLength(), none, none, none, bias); // no cos/sin, no position ids
        List<TracedTensor> out = ops.emit(DOMAIN, "GroupQueryAttention", inputs,
                List.of(q.type(), q.type(), q.type()), List.of(((TracedTensor) q).dims(), presentDims, presentDims),
                Attributes.of("num_heads", (long) heads), Attributes.of("kv_num_heads", (long) kvHeads),
                Attributes.of("scale", (float) scale),
                Attributes.of("local_window_size", window > 0 ? window - 1L : -1L),
                Attributes.of("do_rotary", 0L));
        cache.setPresent(layer, out.get(1), out.get(2));
        return out.get(0);
    }

    /** {@code com.microsoft.RotaryEmbedding} on {@code [B, S, heads * D]}, halves rotated (not interleaved). */
    private Tensor rotary(Tensor x, int heads, Tensor positions, Tensor cos, Tensor sin) {
        return ops.emit(DOMAIN, "RotaryEmbedding", List.of(x, positions, cos, sin), List.of(x.type()),
                List.<Dim[]>of(((TracedTensor) x).dims()), Attributes.of("num_heads", (long) heads),
                Attributes.of("interleaved", 0L)).get(0);
    }

    /** SkipLayerNormalization of {@code residual + delta (+ deltaBias)}: the projection's bias is its fifth input. */
    ResidualNorm addLayerNorm(Tensor residual, Tensor delta, Tensor deltaBias, Tensor gamma, Tensor beta, float eps) {
        Dim[] dims = TracingOps.broadcast(((TracedTensor) residual).dims(), ((TracedTensor) delta).dims());
        List<Tensor> inputs = deltaBias == null ? List.of(residual, delta, gamma, beta)
                : List.of(residual, delta, gamma, beta, deltaBias);
        // outputs: normalized, mean, inverse std (both unused), residual + delta (+ bias)
        List<TracedTensor> out = ops.emit(DOMAIN, "SkipLayerNormalization", inputs,
                List.of(residual.type(), DType.FLOAT, DType.FLOAT, residual.type()), Arrays.asList(dims, null, null,
                        dims), Attributes.of("epsilon", eps));
        return new ResidualNorm(out.get(3), out.get(0));
    }

    /** The contrib op computing {@code activation(x + bias)} exactly as the composed form does; null if none. */
    static String biasActivationOp(String activation) {
        return switch (activation) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> "FastGelu";
            case "gelu" -> "BiasGelu";
            default -> null;
        };
    }

    Tensor biasActivation(String op, Tensor x, Tensor bias) {
        return ops.emit(DOMAIN, op, List.of(x, bias), List.of(x.type()),
                List.<Dim[]>of(TracingOps.broadcast(((TracedTensor) x).dims(), ((TracedTensor) bias).dims()))).get(0);
    }

    CausalAttention causalAttention(CausalAttention.Spec spec, DecoderInputs in) {
        DType type = ops.floatType();
        Tensor bias = ops.where(AttentionMask.causal(ops, in, spec.window()), ops.scalar(0f),
                ops.scalar(AttentionMask.lowest(type)));                                   // [B, 1, S, T]
        Dim total = ops.dim(in.attentionMask(), 1);
        CacheLengths lengths = cacheLengths(in);
        return (batch, sequence, query, key, value, cache, layer) -> groupQueryAttention(query.get(), key.get(),
                value.get(), cache, layer, spec.heads(), spec.heads(), spec.headDim(), spec.scale(layer),
                spec.window(), lengths, bias, total);
    }

    /**
     * {@code com.microsoft.MultiHeadAttention} without a cache: q/k/v {@code [B, S, heads * D]} and the padding as its
     * {@code key_padding_mask} ({@code [B, S]} int32, 0 = padding), the scores scaled by {@code 1 / sqrt(D)}.
     */
    EncoderAttention encoderAttention(EncoderAttention.Spec spec, Tensor attentionMask) {
        Tensor padding = ops.cast(attentionMask, DType.INT32);
        return (batch, sequence, query, key, value) -> {
            Tensor none = null;
            List<Tensor> inputs = Arrays.asList(query, key, value, none, padding); // no packed bias
            return ops.emit(DOMAIN, "MultiHeadAttention", inputs, List.of(query.type()),
                    List.<Dim[]>of(((TracedTensor) query).dims()), Attributes.of("num_heads", (long) spec.heads()),
                    Attributes.of("scale", (float) (1 / Math.sqrt(spec.headDim())))).get(0);
        };
    }
}
