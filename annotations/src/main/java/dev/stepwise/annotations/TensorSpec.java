package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * One graph input or output: its name, element type and named axes.
 *
 * <p>Axes are symbols ({@code batch_size}, {@code sequence_length}, {@code past_sequence_length}, {@code vocab_size},
 * {@code num_key_value_heads}, {@code head_dim}, {@code hidden_size}, {@code num_labels} — the size of
 * {@code id2label} in config.json) or a sum of two of them
 * ({@code past_sequence_length + sequence_length}).
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface TensorSpec {
    String name();

    DType type();

    String[] axes();
}
