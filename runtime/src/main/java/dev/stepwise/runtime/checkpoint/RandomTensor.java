package dev.stepwise.runtime.checkpoint;

import java.util.Arrays;

/** A tensor of a random checkpoint: its name and shape, and the normal distribution its values are drawn from. */
public record RandomTensor(String name, long[] shape, double mean, double std) {

    public RandomTensor {
        shape = shape.clone();
    }

    /** Weights and embeddings: normal(0, std), as transformers initialises them. */
    public static RandomTensor normal(String name, double std, long... shape) {
        return new RandomTensor(name, shape, 0, std);
    }

    /** Norm scales: around 1 rather than exactly 1, so a forward that ignores them is caught by tests. */
    public static RandomTensor aroundOne(String name, double std, long... shape) {
        return new RandomTensor(name, shape, 1, std);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape) + " ~ N(" + mean + ", " + std + ")";
    }
}
