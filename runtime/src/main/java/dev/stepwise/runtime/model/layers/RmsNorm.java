package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.WeightInit;

/**
 * Root-mean-square layer normalization (LLaMA, Mistral, ...): {@code weight * x / sqrt(mean(x^2) + eps)} over the last
 * axis, with no centring and no bias, as {@link Ops#rmsNorm} computes it (in float32, like transformers'
 * {@code LlamaRMSNorm}); the weights are declared here.
 */
public final class RmsNorm {
    private RmsNorm() {
    }

    /** With the scale {@code <name>.weight}, {@code [width]}. */
    public static Tensor apply(Ops ops, Tensor x, String name, long width, float eps) {
        return apply(ops, x, ops.weight(name + ".weight", WeightInit.SCALE, width), eps);
    }

    /** With a given scale: {@link Ops#rmsNorm}. */
    public static Tensor apply(Ops ops, Tensor x, Tensor weight, float eps) {
        return ops.rmsNorm(x, weight, eps);
    }

    /**
     * {@code residual + delta} normalized with the scale {@code <name>.weight}, and the sum; with no {@code delta}
     * (null: nothing to add yet, as before a model's first block) the residual itself normalized.
     */
    public static ResidualNorm addThenApply(Ops ops, Tensor residual, Tensor delta, String name, long width,
                                            float eps) {
        Tensor weight = ops.weight(name + ".weight", WeightInit.SCALE, width);
        return delta == null ? new ResidualNorm(residual, ops.rmsNorm(residual, weight, eps))
                : ops.addRmsNorm(residual, delta, weight, eps);
    }
}
