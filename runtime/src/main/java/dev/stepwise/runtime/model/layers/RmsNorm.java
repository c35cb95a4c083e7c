package dev.stepwise.runtime.model.layers;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ops.WeightInit;

/**
 * Root-mean-square layer normalization (LLaMA, Mistral, ...): {@code weight * x / sqrt(mean(x^2) + eps)} over the last
 * axis, with no centring and no bias. Normalized in float32 like transformers' {@code LlamaRMSNorm}, which upcasts
 * before normalizing and casts back to the input's type before multiplying by the weight.
 */
public final class RmsNorm {
    private RmsNorm() {
    }

    /** With the scale {@code <name>.weight}, {@code [width]}. */
    public static Tensor apply(Ops ops, Tensor x, String name, long width, float eps) {
        return apply(ops, x, ops.weight(name + ".weight", WeightInit.SCALE, width), eps);
    }

    public static Tensor apply(Ops ops, Tensor x, Tensor weight, float eps) {
        // float32 from x to the normalized value, then back to x's type before the weight, as LlamaRMSNorm does
        Tensor x32 = ops.cast(x, DType.FLOAT);
        Tensor meanSquare = ops.reduceMean(ops.pow(x32, 2f), -1, true);
        Tensor inverseRms = ops.div(ops.scalar(1f, DType.FLOAT),
                ops.sqrt(ops.add(meanSquare, ops.scalar(eps, DType.FLOAT))));
        return ops.mul(weight, ops.cast(ops.mul(x32, inverseRms), x.type()));
    }
}
