package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.WeightInit;
import java.util.Arrays;

/**
 * A checkpoint tensor an architecture expects: name, shape, whether it may be absent (a tied LM head), and how a
 * random checkpoint draws it. Derived from the forward's declarations ({@link CausalLm#expectedWeights}).
 */
public record WeightSpec(String name, long[] shape, boolean optional, WeightInit init) {

    public WeightSpec {
        shape = shape.clone();
    }

    public static WeightSpec required(String name, long... shape) {
        return new WeightSpec(name, shape, false, WeightInit.NORMAL);
    }

    public static WeightSpec optional(String name, long... shape) {
        return new WeightSpec(name, shape, true, WeightInit.NORMAL);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
