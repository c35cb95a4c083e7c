package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * A linear layer's output with its bias not yet added: {@code product} ({@code x·W}) and {@code bias}, whose sum is
 * the layer's value. A forward carries it to {@link Norms#addThenLayerNorm} when the next step is the residual add
 * and a LayerNorm, so a fused backend adds the bias inside its norm (SkipLayerNormalization's {@code bias}) while
 * the composed form adds it exactly where the layer always did. A layer without a bias has a null one.
 */
public record Projection(Tensor product, Tensor bias) {

    /** {@code product + bias} ({@code product} when there is no bias). */
    public Tensor value(Ops ops) {
        return bias == null ? product : ops.add(product, bias);
    }
}
