package dev.stepwise.runtime.model.layers;

import dev.stepwise.annotations.DType;
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

    /**
     * Scores where the mask is false get the lowest finite value of the scores' type ({@code torch.finfo(dtype).min}),
     * as transformers does, so softmax never sees -inf.
     */
    public static Tensor apply(Ops ops, Tensor scores, Tensor mask) {
        DType type = scores.type();
        return ops.where(mask, scores, ops.scalar(lowest(type), type));
    }

    /** The lowest finite value of a floating type: {@code -Float.MAX_VALUE}, or -65504 for float16. */
    public static float lowest(DType type) {
        return switch (type) {
            case FLOAT -> -Float.MAX_VALUE;
            case FLOAT16 -> -65504f;
            default -> throw new IllegalArgumentException(type + " is not a floating type");
        };
    }

    /**
     * Softmax over the last axis computed in float32 and returned in the scores' type, as transformers'
     * {@code softmax(scores, dim=-1, dtype=torch.float32).to(dtype)}; in a float32 forward, a plain softmax.
     */
    public static Tensor softmaxInFloat32(Ops ops, Tensor scores) {
        return ops.cast(ops.softmax(ops.cast(scores, DType.FLOAT), -1), scores.type());
    }
}
