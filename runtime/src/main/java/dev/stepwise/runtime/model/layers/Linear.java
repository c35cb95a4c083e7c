package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * {@code nn.Linear(in, out)}: {@code x @ weight^T (+ bias)}, weight stored {@code [out, in]} as {@code <name>.weight},
 * bias {@code [out]} as {@code <name>.bias}.
 */
public final class Linear {
    private Linear() {
    }

    /** With the bias. */
    public static Tensor apply(Ops ops, Tensor x, String name, long in, long out) {
        return apply(ops, x, name, in, out, true);
    }

    /** With the bias when {@code bias}. */
    public static Tensor apply(Ops ops, Tensor x, String name, long in, long out, boolean bias) {
        Tensor y = ops.matmul(x, ops.weightTransposed(name + ".weight", out, in));
        return bias ? ops.add(y, ops.weight(name + ".bias", out)) : y;
    }

    /** {@code activation(apply(x))}, the bias added inside {@link Ops#biasActivation} (one node when fused). */
    public static Tensor applyThenActivate(Ops ops, Tensor x, String name, long in, long out, String activation) {
        Tensor y = ops.matmul(x, ops.weightTransposed(name + ".weight", out, in));
        return ops.biasActivation(activation, y, ops.weight(name + ".bias", out));
    }

    /** {@link #apply} with the bias not yet added, for a residual norm after it ({@link Norms#addThenLayerNorm}). */
    public static Projection project(Ops ops, Tensor x, String name, long in, long out) {
        return project(ops, x, name, in, out, true);
    }

    /** As above; without {@code bias} the projection's bias is null. */
    public static Projection project(Ops ops, Tensor x, String name, long in, long out, boolean bias) {
        Tensor y = ops.matmul(x, ops.weightTransposed(name + ".weight", out, in));
        return new Projection(y, bias ? ops.weight(name + ".bias", out) : null);
    }
}
