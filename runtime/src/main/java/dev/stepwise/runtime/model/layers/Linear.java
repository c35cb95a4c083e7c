package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/** {@code nn.Linear}: {@code x @ weight^T (+ bias)}, weight stored {@code [out, in]} as {@code <name>.weight}. */
public final class Linear {
    private Linear() {
    }

    /** With the bias {@code <name>.bias}. */
    public static Tensor apply(Ops ops, Tensor x, String name) {
        return apply(ops, x, name, true);
    }

    /** With the bias {@code <name>.bias} when {@code bias}. */
    public static Tensor apply(Ops ops, Tensor x, String name, boolean bias) {
        Tensor y = ops.matmul(x, ops.weightTransposed(name + ".weight"));
        return bias ? ops.add(y, ops.weight(name + ".bias")) : y;
    }
}
