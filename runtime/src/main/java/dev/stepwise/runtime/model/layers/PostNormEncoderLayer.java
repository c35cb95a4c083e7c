package dev.stepwise.runtime.model.layers;

import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.function.IntFunction;

/**
 * The original transformer's encoder layer, LayerNorm after each residual add (BERT, DistilBERT): self-attention,
 * add and norm, a two-layer feed-forward, add and norm. The fields are the checkpoint's weight names (each a linear
 * layer or LayerNorm with {@code .weight} and {@code .bias}); under {@code --optimize ort} the attention, the adds
 * with their norms (and the bias of the projection before each) and the first projection's bias with its activation
 * are single ONNX Runtime nodes.
 */
public record PostNormEncoderLayer(String query, String key, String value, String attentionOutput,
                                   String attentionNorm, String intermediate, String output, String outputNorm) {

    /** The layer on {@code hidden} ({@code [B, S, width]}); the feed-forward is {@code inner} wide. */
    public Tensor apply(Ops ops, EncoderAttention attention, Tensor hidden, long width, long inner, String activation,
                        float eps) {
        Dim batch = ops.dim(hidden, 0);
        Dim sequence = ops.dim(hidden, 1);
        Tensor context = attention.apply(batch, sequence, Linear.apply(ops, hidden, query, width, width),
                Linear.apply(ops, hidden, key, width, width), Linear.apply(ops, hidden, value, width, width));
        Tensor x = Norms.addThenLayerNorm(ops, hidden, Linear.project(ops, context, attentionOutput, width, width),
                attentionNorm, width, eps).normed();
        Projection ffn = Linear.project(ops, Linear.applyThenActivate(ops, x, intermediate, width, inner, activation),
                output, inner, width);
        return Norms.addThenLayerNorm(ops, x, ffn, outputNorm, width, eps).normed();
    }

    /** {@code layers} such layers in turn on {@code hidden}, {@code names} giving each layer's weight names. */
    public static Tensor stack(Ops ops, EncoderAttention attention, Tensor hidden, int layers,
                               IntFunction<PostNormEncoderLayer> names, long width, long inner, String activation,
                               float eps) {
        Tensor x = hidden;
        for (int layer = 0; layer < layers; layer++) {
            x = names.apply(layer).apply(ops, attention, x, width, inner, activation, eps);
        }
        return x;
    }
}
