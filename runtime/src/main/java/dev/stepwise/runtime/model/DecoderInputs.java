package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

/**
 * The decoder's id inputs inside a forward: {@code input_ids [B, S]}, {@code attention_mask [B, P + S]} (1 = attend,
 * 0 = padding) and {@code position_ids [B, S]}, all int64. {@code lastLogitsOnly} asks for logits at the last position
 * only, {@code [B, 1, vocab]} (transformers' {@code logits_to_keep=1}); a forward honours it by ending in
 * {@link dev.stepwise.runtime.model.layers.LmHead}, which slices the hidden states before the head.
 */
public record DecoderInputs(Tensor inputIds, Tensor attentionMask, Tensor positionIds, boolean lastLogitsOnly) {

    /** Logits at every position (optimum's contract). */
    public DecoderInputs(Tensor inputIds, Tensor attentionMask, Tensor positionIds) {
        this(inputIds, attentionMask, positionIds, false);
    }
}
