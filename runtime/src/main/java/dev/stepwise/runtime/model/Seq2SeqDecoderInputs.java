package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

/**
 * The decoder's inputs inside a forward: its new tokens {@code input_ids [B, S_dec]} (int64), the encoder's padding
 * mask {@code encoder_attention_mask [B, S_enc]} (1 = token) and the encoder's output
 * {@code encoder_hidden_states [B, S_enc, hidden]}. The decoder's own tokens are never padded on the left (every row
 * starts with {@code decoder_start_token_id}), so it needs no mask of its own: optimum's contract.
 */
public record Seq2SeqDecoderInputs(Tensor inputIds, Tensor encoderAttentionMask, Tensor encoderHiddenStates) {
}
