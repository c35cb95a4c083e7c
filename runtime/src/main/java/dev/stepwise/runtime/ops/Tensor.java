package dev.stepwise.runtime.ops;

import dev.stepwise.annotations.DType;

/**
 * A value inside a forward pass. What it is depends on the backend: a named ONNX value while tracing, an NDArray
 * while running eagerly. Forwards only pass tensors back to the {@link Ops} that made them.
 */
public interface Tensor {
    /** Number of axes; always known, in both backends. */
    int rank();

    /** Element type; always known, in both backends. */
    DType type();
}
