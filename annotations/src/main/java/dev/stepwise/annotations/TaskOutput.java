package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The graph output of one task, as optimum's {@code OnnxConfig.outputs} picks it by task: feature-extraction
 * {@code last_hidden_state [batch_size, sequence_length, hidden_size]}, text-classification
 * {@code logits [batch_size, num_labels]}, fill-mask {@code logits [batch_size, sequence_length, vocab_size]}.
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface TaskOutput {
    Task task();

    TensorSpec tensor();
}
