package dev.stepwise.runtime.model.layers;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.function.Supplier;

/**
 * Causal multi-head self-attention over the KV cache with no position embedding of its own (the positions are learned
 * and added to the tokens), as GPT-2, GPT-Neo and OPT compute it: keys and values have as many heads as the queries. Set up once per
 * forward ({@link Ops#causalAttention}: the mask every layer shares), then applied per layer to that layer's
 * query/key/value projections.
 *
 * <p>{@link #composed} is the form built of standard ops (the plain export, the PyTorch reference, the shape-only
 * run); a backend that fuses attention (the {@code --optimize ort} trace) returns its own.
 */
public interface CausalAttention {

    /**
     * The attention's shape: {@code heads} heads of {@code headDim}; {@code window} &gt; 0 lets a query see only the
     * last {@code window} positions, itself included (0 = the whole causal past). The scores are divided by
     * {@code sqrt(headDim)} when {@code scaled}, and by {@code layer + 1} when {@code inverseLayerScaled} (GPT-2's
     * {@code scale_attn_weights} and {@code scale_attn_by_inverse_layer_idx}). {@code precision} says which steps
     * run in float32 whatever the compute type.
     */
    record Spec(int heads, int headDim, int window, boolean scaled, boolean inverseLayerScaled, Precision precision) {

        /** What the scores of {@code layer} are multiplied by, all divisions in one. */
        public double scale(int layer) {
            return (scaled ? 1.0 / Math.sqrt(headDim) : 1.0) / (inverseLayerScaled ? layer + 1 : 1);
        }
    }

    /** Where a float16 forward computes in float32 (in a float32 forward all three are the same graph). */
    enum Precision {
        /** Everything in the compute type (GPT-2). */
        COMPUTE_TYPE,
        /** Scores, mask and softmax in float32, the values weighed in their own type (GPT-Neo). */
        FLOAT32_SCORES,
        /** Scores in the compute type, the softmax in float32 (OPT, {@link AttentionMask#softmaxInFloat32}). */
        FLOAT32_SOFTMAX
    }

    /**
     * One layer's attention on a block input of {@code batch} rows of {@code sequence} tokens (its dims, read by the
     * forward before the projections as the plain graph always has). {@code query}, {@code key} and {@code value}
     * ({@code [B, S, heads * headDim]}) are the projections, asked for in that order (so the composed form emits each one's head split right after it). The
     * layer's past comes from {@code cache} when it has one; the present ({@code [B, heads, past + S, headDim]}) is
     * recorded there. Returns the context {@code [B, S, heads * headDim]}, before the output projection.
     */
    Tensor apply(Dim batch, Dim sequence, Supplier<Tensor> query, Supplier<Tensor> key, Supplier<Tensor> value,
                 KvCache cache, int layer);

    /** The standard-op form: a boolean causal (and local-window) mask, softmax attention. */
    static CausalAttention composed(Ops ops, Spec spec, DecoderInputs in) {
        Tensor mask = AttentionMask.causal(ops, in, spec.window());
        return (batch, sequence, query, key, value, cache, layer) -> composedLayer(ops, spec, mask, batch, sequence,
                query, key, value, cache, layer);
    }

    private static Tensor composedLayer(Ops ops, Spec spec, Tensor mask, Dim batch, Dim sequence,
                                        Supplier<Tensor> query, Supplier<Tensor> key, Supplier<Tensor> value,
                                        KvCache cache, int layer) {
        Tensor q = Heads.split(ops, query.get(), batch, sequence, spec.heads(), spec.headDim());
        Tensor k = Heads.split(ops, key.get(), batch, sequence, spec.heads(), spec.headDim());
        Tensor v = Heads.split(ops, value.get(), batch, sequence, spec.heads(), spec.headDim());
        KvCache.KeyValue kv = cache.append(ops, layer, k, v);
        Tensor queries = q;
        // the score matrices are dead once the context is made (Ops.scoped)
        Tensor context = ops.scoped(() -> context(ops, spec, mask, queries, kv.key(), kv.value(), layer));
        return Heads.merge(ops, context, batch, sequence, (long) spec.heads() * spec.headDim());
    }

    /** Softmax attention of {@code q} over {@code k}/{@code v} ({@code [B, heads, *, headDim]}) under {@code mask}. */
    private static Tensor context(Ops ops, Spec spec, Tensor mask, Tensor q, Tensor k, Tensor v, int layer) {
        DType scoreType = spec.precision() == Precision.FLOAT32_SCORES ? DType.FLOAT : q.type();
        Tensor scores = ops.matmul(ops.cast(q, scoreType), ops.transpose(ops.cast(k, scoreType), 0, 1, 3, 2));
        if (spec.scaled()) {
            scores = ops.div(scores, ops.scalar((float) Math.sqrt(spec.headDim())));
        }
        if (spec.inverseLayerScaled()) {
            scores = ops.div(scores, ops.scalar(layer + 1));
        }
        Tensor masked = AttentionMask.apply(ops, scores, mask);
        Tensor probs = ops.cast(spec.precision() == Precision.FLOAT32_SOFTMAX ? AttentionMask.softmaxInFloat32(ops,
                masked) : ops.softmax(masked, -1), v.type());
        return ops.matmul(probs, v);
    }
}
