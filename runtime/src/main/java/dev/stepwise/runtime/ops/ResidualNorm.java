package dev.stepwise.runtime.ops;

/**
 * What {@link Ops#addRmsNorm} and {@link Ops#addLayerNorm} yield: the residual stream after the add ({@code sum}, carried to the next block) and
 * its normalization ({@code normed}, the next block's input).
 */
public record ResidualNorm(Tensor sum, Tensor normed) {
}
