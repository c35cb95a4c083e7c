package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The past/present key-value tensors, one key and one value per layer.
 *
 * <p>Name patterns hold {@code {layer}} (the layer index) and {@code {kind}} ({@code key} or {@code value}).
 * {@code axes} is the layout of a past tensor; it must contain {@code past_sequence_length}. The present tensor has
 * the same layout with {@code past_sequence_length + sequence_length} in its place.
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface KeyValueCache {
    String past() default "past_key_values.{layer}.{kind}";

    String present() default "present.{layer}.{kind}";

    DType type() default DType.FLOAT;

    String[] axes() default {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"};
}
