package dev.stepwise.runtime.ops;

/**
 * What a declared weight is for, as far as a random checkpoint ({@code stepwise random-checkpoint}) needs to know to
 * draw it: the forward says it where it declares the weight, and the random checkpoint derives each tensor's
 * distribution from it. Exports and eager runs read the checkpoint and ignore it.
 */
public enum WeightInit {
    /**
     * normal(0, 0.02), transformers' default {@code initializer_range}: matrices, embeddings and biases. Biases are
     * drawn too, not zero, so a forward that drops one is caught by tests.
     */
    NORMAL,
    /** normal(1, 0.1): the scale of a LayerNorm or RMSNorm, spread around one so that a misplaced scale shows. */
    SCALE,
    /**
     * normal(0, 1/sqrt(in)) for an {@code [out, in]} matrix: variance-preserving, for projections whose 0.02 std would
     * shrink a small model's logits to where a validation tolerance no longer tells a bug from rounding (OPT's
     * {@code project_in} / {@code project_out}).
     */
    FAN_IN;

    /** transformers' {@code initializer_range}. */
    static final double INIT_STD = 0.02;
    /** Spread of norm scales around 1; larger than the init std so tests notice a misplaced scale. */
    static final double SCALE_STD = 0.1;

    /** The mean a random checkpoint draws this weight around. */
    public double mean() {
        return this == SCALE ? 1 : 0;
    }

    /** The standard deviation a random checkpoint draws a weight of this shape with. */
    public double std(long[] shape) {
        return switch (this) {
            case NORMAL -> INIT_STD;
            case SCALE -> SCALE_STD;
            case FAN_IN -> {
                if (shape.length != 2) {
                    throw new IllegalArgumentException("FAN_IN is for [out, in] matrices, not shape "
                            + java.util.Arrays.toString(shape));
                }
                yield 1 / Math.sqrt(shape[1]);
            }
        };
    }
}
