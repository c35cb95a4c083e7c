package dev.stepwise.runtime.model;

import dev.stepwise.annotations.Task;
import java.util.List;

/**
 * Everything an {@code @OnnxConfig} declares, as a value the runtime can use. The processor writes the code that
 * builds it, so the runtime never reflects on annotations.
 */
public record ArchitectureSpec(String modelType, List<Task> tasks, int opset, double atol, ConfigKeyMap configKeys,
                               List<TensorDecl> inputs, CacheDecl cache, List<TensorDecl> outputs)
        implements TaskSpec {
    public ArchitectureSpec {
        tasks = List.copyOf(tasks);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
