package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * Learned position embeddings indexed from the attention mask, as transformers' OPT and BioGPT
 * ({@code OPTLearnedPositionalEmbedding}, {@code BioGptLearnedPositionalEmbedding}) do when given no position ids.
 */
public final class LearnedPositions {
    private LearnedPositions() {
    }

    /**
     * Position rows for the new tokens, {@code [B, S]}, already offset: {@code cumsum(mask) * mask - 1 + offset} over
     * the whole mask (past included), of which the last {@code S} columns.
     */
    public static Tensor fromMask(Ops ops, DecoderInputs in, long offset) {
        Tensor mask = in.attentionMask();
        Dim total = ops.dim(mask, 1);
        Dim past = ops.sub(total, ops.dim(in.inputIds(), 1));
        Tensor counted = ops.sub(ops.mul(ops.cumsum(mask, 1), mask), ops.longs(1));
        return ops.add(ops.slice(counted, 1, past, total), ops.longs(offset));
    }
}
