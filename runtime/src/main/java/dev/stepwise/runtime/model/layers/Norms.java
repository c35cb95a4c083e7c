package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.WeightInit;

/** Normalizations read from a weight prefix. */
public final class Norms {
    private Norms() {
    }

    /** {@code nn.LayerNorm(width)} with scale {@code <name>.weight} and shift {@code <name>.bias}, both {@code [width]}. */
    public static Tensor layerNorm(Ops ops, Tensor x, String name, long width, float eps) {
        return ops.layerNorm(x, ops.weight(name + ".weight", WeightInit.SCALE, width), ops.weight(name + ".bias", width),
                eps);
    }

    /**
     * {@code residual + delta} and its {@link #layerNorm} ({@link Ops#addLayerNorm}); the weights are declared after
     * the add, as when the two are written one after the other. With no {@code delta} (nothing to add yet), the
     * norm of {@code residual}.
     */
    public static ResidualNorm addThenLayerNorm(Ops ops, Tensor residual, Tensor delta, String name, long width,
                                                float eps) {
        return addThenLayerNorm(ops, residual, delta, null, name, width, eps);
    }

    /** As above for a projection whose bias is not yet added: the fused form adds it inside the norm. */
    public static ResidualNorm addThenLayerNorm(Ops ops, Tensor residual, Projection delta, String name, long width,
                                                float eps) {
        return delta == null ? addThenLayerNorm(ops, residual, (Tensor) null, name, width, eps)
                : addThenLayerNorm(ops, residual, delta.product(), delta.bias(), name, width, eps);
    }

    private static ResidualNorm addThenLayerNorm(Ops ops, Tensor residual, Tensor delta, Tensor deltaBias,
                                                 String name, long width, float eps) {
        if (delta == null) {
            return new ResidualNorm(residual, layerNorm(ops, residual, name, width, eps));
        }
        return ops.addLayerNorm(residual, delta, deltaBias, () -> ops.weight(name + ".weight", WeightInit.SCALE, width),
                () -> ops.weight(name + ".bias", width), eps);
    }
}
