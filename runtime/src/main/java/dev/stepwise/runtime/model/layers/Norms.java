package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
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
}
