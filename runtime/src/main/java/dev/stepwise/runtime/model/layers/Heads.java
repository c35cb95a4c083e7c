package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/** Multi-head attention's reshapes, for models whose keys and values have as many heads as the queries. */
public final class Heads {
    private Heads() {
    }

    /** {@code [B, S, H*D]} → {@code [B, H, S, D]}. */
    public static Tensor split(Ops ops, ModelConfig config, Tensor x, Dim batch, Dim sequence) {
        return split(ops, x, batch, sequence, config.numAttentionHeads(), config.headDim());
    }

    /** {@code [B, S, heads*headDim]} → {@code [B, heads, S, headDim]}. */
    public static Tensor split(Ops ops, Tensor x, Dim batch, Dim sequence, int heads, int headDim) {
        return ops.transpose(ops.reshape(x, batch, sequence, Dim.of(heads), Dim.of(headDim)), 0, 2, 1, 3);
    }

    /** {@code [B, H, S, D]} → {@code [B, S, hidden]}. */
    public static Tensor merge(Ops ops, Tensor x, Dim batch, Dim sequence, long hidden) {
        Tensor context = ops.transpose(x, 0, 2, 1, 3);        // [B, S, H, D]
        return ops.reshape(context, batch, sequence, Dim.of(hidden));
    }
}
