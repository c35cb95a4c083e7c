package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The decoder graph of an encoder-decoder model. Its inputs are the new tokens {@code input_ids
 * [batch_size, decoder_sequence_length]}, the encoder's padding mask {@code encoder_attention_mask
 * [batch_size, encoder_sequence_length]} and the encoder's output {@code encoder_hidden_states
 * [batch_size, encoder_sequence_length, hidden_size]}; its output besides the caches is {@code logits
 * [batch_size, decoder_sequence_length, vocab_size]}.
 *
 * <p>Two caches: {@code selfCache} grows by the new tokens each step (its past axis is
 * {@code past_decoder_sequence_length}, its present's {@code past_decoder_sequence_length + decoder_sequence_length});
 * {@code crossCache} holds the keys/values of the encoder's output, computed once, so its sequence axis is
 * {@code encoder_sequence_length} in both past and present. The defaults are optimum's names.
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface DecoderGraph {
    TensorSpec[] inputs() default {
        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "decoder_sequence_length"}),
        @TensorSpec(name = "encoder_attention_mask", type = DType.INT64,
                axes = {"batch_size", "encoder_sequence_length"}),
        @TensorSpec(name = "encoder_hidden_states", type = DType.FLOAT,
                axes = {"batch_size", "encoder_sequence_length", "hidden_size"})};

    KeyValueCache selfCache() default @KeyValueCache(past = "past_key_values.{layer}.decoder.{kind}",
            present = "present.{layer}.decoder.{kind}",
            axes = {"batch_size", "num_attention_heads", "past_decoder_sequence_length", "head_dim"});

    KeyValueCache crossCache() default @KeyValueCache(past = "past_key_values.{layer}.encoder.{kind}",
            present = "present.{layer}.encoder.{kind}",
            axes = {"batch_size", "num_attention_heads", "encoder_sequence_length", "head_dim"});

    TensorSpec[] outputs() default
        @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "decoder_sequence_length", "vocab_size"});
}
