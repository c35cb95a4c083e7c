package dev.stepwise.runtime.model;

import dev.stepwise.annotations.Task;
import java.util.List;

/** A spec that lists the tasks its architecture is exported for ({@link ArchitectureSpec}, {@link EncoderSpec}). */
public interface TaskSpec {
    List<Task> tasks();

    default boolean supports(Task task) {
        return tasks().contains(task);
    }
}
