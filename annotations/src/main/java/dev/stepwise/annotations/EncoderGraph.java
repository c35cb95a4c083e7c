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
    /** Default: optimum's {@code input_ids} and {@code attention_mask}; a model with token types adds its own. */
    TensorSpec[] inputs() default {
        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
        @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "sequence_length"})};

    /** Default: optimum's output of each encoder task (a task the model does not declare is not exported). */
    TaskOutput[] outputs() default {
        @TaskOutput(task = Task.FEATURE_EXTRACTION, tensor = @TensorSpec(name = "last_hidden_state",
                type = DType.FLOAT, axes = {"batch_size", "sequence_length", "hidden_size"})),
        @TaskOutput(task = Task.TEXT_CLASSIFICATION, tensor = @TensorSpec(name = "logits",
                type = DType.FLOAT, axes = {"batch_size", "num_labels"})),
        @TaskOutput(task = Task.FILL_MASK, tensor = @TensorSpec(name = "logits",
                type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))};
}
