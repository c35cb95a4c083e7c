package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

/**
 * An encoder's inputs inside a forward, each int64 {@code [B, S]}: {@code input_ids}, {@code attention_mask}
 * (1 = token, 0 = padding), and, when the architecture declares them, {@code token_type_ids} and
 * {@code position_ids} (null otherwise: the forward then uses type 0 and positions {@code 0..S-1}).
 */
public record EncoderInputs(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds) {
}
