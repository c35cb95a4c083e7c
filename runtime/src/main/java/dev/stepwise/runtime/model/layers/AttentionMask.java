package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * The boolean "may attend" mask {@code [batch, 1, sequence, past + sequence]} shared by decoder-only models: causal
 * (query at absolute position {@code past + i} sees keys {@code 0 .. past + i}) and-ed with the padding mask.
 * Computed from the inputs' dims, so one graph serves prefill (past 0) and decode.
 */
public final class AttentionMask {
    private AttentionMask() {
    }

    public static Tensor causal(Ops ops, DecoderInputs in) {
        return causal(ops, in, 0);
    }

    /**
     * As {@link #causal(Ops, DecoderInputs)}; with {@code window > 0} a query also sees only the last {@code window}
     * positions, itself included (GPT-Neo's local attention).
     */
    public static Tensor causal(Ops ops, DecoderInputs in, int window) {
        Dim total = ops.dim(in.attentionMask(), 1);
        Dim sequence = ops.dim(in.inputIds(), 1);
        Dim past = ops.sub(total, sequence);
        Tensor keyPositions = ops.unsqueeze(ops.range(Dim.of(0), total), 0);        // [1, T]
        Tensor queryPositions = ops.unsqueeze(ops.range(past, total), 1);           // [S, 1]
        Tensor allowed = ops.lessOrEqual(keyPositions, queryPositions);             // [S, T]
        if (window > 0) {
            Tensor inWindow = ops.greater(keyPositions, ops.sub(queryPositions, ops.longs(window)));
            allowed = ops.and(allowed, inWindow);
        }
        Tensor notPadding = ops.greater(in.attentionMask(), ops.longs(0));         // [B, T]
        return ops.and(allowed, ops.unsqueeze(notPadding, 1, 2));                   // [B, 1, S, T]
    }

    /** Scores where the mask is false get the lowest float, as transformers does, so softmax never sees -inf. */
    public static Tensor apply(Ops ops, Tensor scores, Tensor mask) {
        return ops.where(mask, scores, ops.scalar(-Float.MAX_VALUE));
    }
}
