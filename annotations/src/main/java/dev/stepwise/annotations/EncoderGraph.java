package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * An encoder graph: inputs of shape {@code [batch_size, sequence_length]} ({@code input_ids} and
 * {@code attention_mask} always, {@code token_type_ids} where the model has token types) and one output per task.
 * An encoder attends in both directions over the whole input at once, so it has no past/present cache: no
 * {@code past_sequence_length} axis and no cache tensor names.
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface EncoderGraph {
    TensorSpec[] inputs();

    TaskOutput[] outputs();
}
