package dev.stepwise.runtime.model;

import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import java.util.List;
import java.util.Map;

/**
 * Everything an {@code @EncoderConfig} declares, as a value: the graph's inputs and, per task, its output. The
 * processor writes the code that builds it.
 */
public record EncoderSpec(String modelType, List<Task> tasks, int opset, double atol, ConfigKeyMap configKeys,
                          List<TensorDecl> inputs, Map<Task, TensorDecl> outputs) implements TaskSpec {
    public EncoderSpec {
        tasks = List.copyOf(tasks);
        inputs = List.copyOf(inputs);
        outputs = Map.copyOf(outputs);
    }

    /** The output of {@code task}; a one-line error when the architecture does not support it. */
    public TensorDecl output(Task task) {
        TensorDecl out = outputs.get(task);
        if (out == null || !supports(task)) {
            throw new StepwiseException(modelType + " does not support task " + task.cliName() + " (supported: "
                    + String.join(", ", tasks.stream().map(Task::cliName).toList()) + ")");
        }
        return out;
    }

    public boolean hasInput(String name) {
        return inputs.stream().anyMatch(t -> t.name().equals(name));
    }
}
