package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * An encoder's bidirectional multi-head self-attention (BERT, DistilBERT): every token sees every real token of its
 * row, none of the padding. Set up once per forward ({@link Ops#encoderAttention}: the padding mask every layer
 * shares), then applied per layer to that layer's query/key/value projections.
 *
 * <p>{@link #composed} is the form built of standard ops (the plain export, the PyTorch reference, the shape-only
 * run); a backend that fuses attention (the {@code --optimize ort} trace) returns its own.
 */
public interface EncoderAttention {

    /**
     * {@code heads} heads of {@code headDim}; the product of queries and keys is divided by {@code sqrt(headDim)}, on
     * the queries before the product when {@code scaleQueries} (DistilBERT) and on the scores after it otherwise
     * (BERT) — the same value, rounded differently.
     */
    record Spec(int heads, int headDim, boolean scaleQueries) {
    }

    /**
     * One layer's attention on {@code batch} rows of {@code sequence} tokens: {@code query}, {@code key} and
     * {@code value} are the projections {@code [B, S, heads * headDim]}; the result is the context, of the same shape.
     */
    Tensor apply(Dim batch, Dim sequence, Tensor query, Tensor key, Tensor value);

    /** The standard-op form: a boolean padding mask {@code [B, 1, 1, S]} of {@code attentionMask} (0 = padding). */
    static EncoderAttention composed(Ops ops, Spec spec, Tensor attentionMask) {
        Tensor mask = ops.unsqueeze(ops.greater(attentionMask, ops.longs(0)), 1, 2);
        return (batch, sequence, query, key, value) -> {
            Tensor q = Heads.split(ops, query, batch, sequence, spec.heads(), spec.headDim());
            Tensor k = Heads.split(ops, key, batch, sequence, spec.heads(), spec.headDim());
            Tensor v = Heads.split(ops, value, batch, sequence, spec.heads(), spec.headDim());
            Tensor scale = ops.scalar((float) Math.sqrt(spec.headDim()));
            Tensor scores = spec.scaleQueries() ? ops.matmul(ops.div(q, scale), ops.transpose(k, 0, 1, 3, 2))
                    : ops.div(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)), scale);
            Tensor probs = ops.softmax(AttentionMask.apply(ops, scores, mask), -1);
            return Heads.merge(ops, ops.matmul(probs, v), batch, sequence, (long) spec.heads() * spec.headDim());
        };
    }
}
