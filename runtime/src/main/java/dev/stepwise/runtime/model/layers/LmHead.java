package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * The LM head, {@code hidden @ weight^T}, on every position or, when the inputs ask for
 * {@link DecoderInputs#lastLogitsOnly()}, on the last one only: the hidden states are sliced first, so the
 * {@code [B, S, vocab]} product is never computed (left padding puts every row's newest token last).
 */
public final class LmHead {
    private LmHead() {
    }

    /** Logits {@code [B, S, vocab]}, or {@code [B, 1, vocab]} when {@code in.lastLogitsOnly()}. */
    public static Tensor logits(Ops ops, DecoderInputs in, Tensor hidden, Tensor weight) {
        return ops.matmulTransposedB(in.lastLogitsOnly() ? lastPosition(ops, hidden) : hidden, weight);
    }

    /** {@code x[:, -1:, ...]}: the last position of axis 1. */
    public static Tensor lastPosition(Ops ops, Tensor x) {
        Dim sequence = ops.dim(x, 1);
        return ops.slice(x, 1, ops.sub(sequence, Dim.of(1)), sequence);
    }
}
