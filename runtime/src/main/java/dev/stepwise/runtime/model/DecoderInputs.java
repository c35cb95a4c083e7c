package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

/**
 * The decoder's id inputs inside a forward: {@code input_ids [B, S]}, {@code attention_mask [B, P + S]} (1 = attend,
 * 0 = padding) and {@code position_ids [B, S]}, all int64.
 */
public record DecoderInputs(Tensor inputIds, Tensor attentionMask, Tensor positionIds) {
}
