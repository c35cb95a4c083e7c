package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * An encoder-decoder model's two forwards, written once against {@link Ops}. The class implementing it carries a
 * {@code @Seq2SeqConfig} annotation, which the processor checks.
 *
 * <p>The encoder runs once per request; the decoder once per step. The decoder's self-attention past comes from
 * {@code selfCache} (none on the first step); its cross-attention keys/values come from {@code crossCache} when that
 * has a past, and are otherwise computed from {@code encoder_hidden_states}; given both, they are the past followed by
 * those of {@code encoder_hidden_states} (Stepwise's single decoder graph, where one of the two is empty: no {@code If}).
 * The forward records every layer's present in both caches (for the cross cache, the keys/values it used).
 */
public interface Seq2SeqLm {

    /** The encoder's {@code last_hidden_state [B, S_enc, hidden]}; only ids and mask are set in {@code inputs}. */
    Tensor encode(Ops ops, ModelConfig config, EncoderInputs inputs);

    /** The decoder's logits {@code [B, S_dec, vocab]}. */
    Tensor decode(Ops ops, ModelConfig config, Seq2SeqDecoderInputs inputs, KvCache selfCache, KvCache crossCache);

    /** The number of decoder layers, the length of both caches. */
    int decoderLayers(ModelConfig config);
}
