package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.function.Supplier;

/**
 * Causal self-attention with rotary position embeddings and grouped key/value heads over the KV cache, as the LLaMA
 * family computes it. Set up once per forward ({@link Ops#rotaryAttention}: the mask and the rotary angles every layer
 * shares), then applied per layer to that layer's query/key/value projections.
 *
 * <p>{@link #composed} is the form built of standard ops (the plain export, the PyTorch reference, the shape-only
 * run); a backend that fuses attention (the {@code --optimize ort} trace) returns its own.
 */
public interface RotaryAttention {

    /**
     * The attention's shape: {@code heads} query heads sharing {@code kvHeads} key/value heads of {@code headDim};
     * {@code window} &gt; 0 lets a query see only the last {@code window} positions, itself included (0 = the whole
     * causal past).
     */
    record Spec(int heads, int kvHeads, int headDim, RotaryEmbedding rope, int window) {
    }

    /**
     * One layer's attention. {@code query} ({@code [B, S, heads * headDim]}), {@code key} and {@code value}
     * ({@code [B, S, kvHeads * headDim]}) are the projections before rotary, asked for in that order (so the
     * composed form emits each projection's head split right after it). The layer's past comes from {@code cache} when
     * it has one; the present (rotated keys, values, {@code [B, kvHeads, past + S, headDim]}) is recorded there.
     * Returns the context {@code [B, S, heads * headDim]}, before the output projection.
     */
    Tensor apply(Supplier<Tensor> query, Supplier<Tensor> key, Supplier<Tensor> value, KvCache cache, int layer);

    /** The standard-op form: a boolean causal (and sliding-window) mask, cos/sin per position, softmax attention. */
    static RotaryAttention composed(Ops ops, Spec spec, DecoderInputs in) {
        Tensor mask = AttentionMask.causal(ops, in, spec.window());
        RotaryEmbedding.CosSin cosSin = spec.rope().cosSin(ops, in.positionIds(), ops.dim(in.attentionMask(), 1));
        return (query, key, value, cache, layer) -> composedLayer(ops, spec, mask, cosSin, query, key, value, cache,
                layer);
    }

    private static Tensor composedLayer(Ops ops, Spec spec, Tensor mask, RotaryEmbedding.CosSin cosSin,
                                        Supplier<Tensor> query, Supplier<Tensor> key, Supplier<Tensor> value,
                                        KvCache cache, int layer) {
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int headDim = spec.headDim();
        Tensor q = query.get();
        Dim batch = ops.dim(q, 0);
        Dim sequence = ops.dim(q, 1);
        q = splitHeads(ops, q, batch, sequence, heads, headDim);
        Tensor k = splitHeads(ops, key.get(), batch, sequence, kvHeads, headDim);
        Tensor v = splitHeads(ops, value.get(), batch, sequence, kvHeads, headDim);
        q = spec.rope().apply(ops, q, cosSin);
        k = spec.rope().apply(ops, k, cosSin);
        KvCache.KeyValue kv = cache.append(ops, layer, k, v);
        Tensor queries = q;
        // the score matrices are dead once the context is made (Ops.scoped)
        Tensor context = ops.scoped(() -> context(ops, spec, mask, queries, kv.key(), kv.value(), batch, sequence));
        return ops.reshape(ops.transpose(context, 0, 2, 1, 3), batch, sequence, Dim.of((long) heads * headDim));
    }

    /** Softmax attention {@code [B, H, S, D]} of the rotated queries over the layer's keys and values. */
    private static Tensor context(Ops ops, Spec spec, Tensor mask, Tensor q, Tensor k, Tensor v, Dim batch,
                                  Dim sequence) {
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int headDim = spec.headDim();
        Tensor scale = ops.scalar((float) (1.0 / Math.sqrt(headDim)));
        if (kvHeads == heads) {
            Tensor scores = ops.mul(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)), scale);
            Tensor probs = AttentionMask.softmaxInFloat32(ops, AttentionMask.apply(ops, scores, mask));
            return ops.matmul(probs, v);
        }
        // [B, KV, n_rep, S, D] queries against [B, KV, 1, T, D] keys: each KV head serves its n_rep query heads.
        int groups = heads / kvHeads;
        Tensor grouped = ops.reshape(q, batch, Dim.of(kvHeads), Dim.of(groups), sequence, Dim.of(headDim));
        Tensor keys = ops.transpose(ops.unsqueeze(k, 2), 0, 1, 2, 4, 3);                // [B, KV, 1, D, T]
        Tensor scores = ops.mul(ops.matmul(grouped, keys), scale);                       // [B, KV, n_rep, S, T]
        Tensor probs = AttentionMask.softmaxInFloat32(ops, AttentionMask.apply(ops, scores, ops.unsqueeze(mask, 1)));
        Tensor out = ops.matmul(probs, ops.unsqueeze(v, 2));                             // [B, KV, n_rep, S, D]
        return ops.reshape(out, batch, Dim.of(heads), sequence, Dim.of(headDim));
    }

    /** {@code [B, S, heads * D]} → {@code [B, heads, S, D]}. */
    private static Tensor splitHeads(Ops ops, Tensor x, Dim batch, Dim sequence, int heads, int headDim) {
        return ops.transpose(ops.reshape(x, batch, sequence, Dim.of(heads), Dim.of(headDim)), 0, 2, 1, 3);
    }
}
