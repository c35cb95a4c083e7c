package dev.stepwise.runtime.model;

import java.util.Arrays;

/** A checkpoint tensor an architecture expects: name, shape, and whether it may be absent (a tied LM head). */
public record WeightSpec(String name, long[] shape, boolean optional) {

    public static WeightSpec required(String name, long... shape) {
        return new WeightSpec(name, shape, false);
    }

    public static WeightSpec optional(String name, long... shape) {
        return new WeightSpec(name, shape, true);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
