package dev.stepwise.runtime.model;

import dev.stepwise.annotations.DType;
import java.util.List;

/** Runtime form of an {@code @TensorSpec}: a graph input or output with its named axes. */
public record TensorDecl(String name, DType type, List<String> axes) {
    public TensorDecl {
        axes = List.copyOf(axes);
    }
}
