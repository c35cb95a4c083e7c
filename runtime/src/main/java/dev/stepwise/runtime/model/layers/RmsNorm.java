package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * Root-mean-square layer normalization (LLaMA, Mistral, ...): {@code weight * x / sqrt(mean(x^2) + eps)} over the last
 * axis, with no centring and no bias. Computed in float32 like transformers' {@code LlamaRMSNorm}, which upcasts
 * before normalizing.
 */
public final class RmsNorm {
    private RmsNorm() {
    }

    public static Tensor apply(Ops ops, Tensor x, Tensor weight, float eps) {
        Tensor meanSquare = ops.reduceMean(ops.pow(x, 2f), -1, true);
        Tensor inverseRms = ops.div(ops.scalar(1f), ops.sqrt(ops.add(meanSquare, ops.scalar(eps))));
        return ops.mul(weight, ops.mul(x, inverseRms));
    }
}
