package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/** Normalizations read from a weight prefix. */
public final class Norms {
    private Norms() {
    }

    /** {@code nn.LayerNorm} with scale {@code <name>.weight} and shift {@code <name>.bias}. */
    public static Tensor layerNorm(Ops ops, Tensor x, String name, float eps) {
        return ops.layerNorm(x, ops.weight(name + ".weight"), ops.weight(name + ".bias"), eps);
    }
}
