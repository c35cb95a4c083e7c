package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import java.util.Arrays;

/**
 * A value of the graph being traced: its name, element type and what is known of its shape. Each axis is a known
 * {@link Dim}, a {@link SymbolicDim}, or null (unknown until asked for; then read off this value with Shape and
 * remembered here).
 */
public final class TracedTensor implements Tensor {
    private String name;
    private final DType type;
    private final Dim[] dims;

    TracedTensor(String name, DType type, Dim[] dims) {
        this.name = name;
        this.type = type;
        this.dims = dims.clone();
    }

    /** The value's name in the graph (a graph output may rename it once). */
    public String name() {
        return name;
    }

    void rename(String newName) {
        this.name = newName;
    }

    public DType type() {
        return type;
    }

    @Override
    public int rank() {
        return dims.length;
    }

    /** What is known of one axis (may be null); negative axes count from the end. */
    public Dim dim(int axis) {
        return dims[normalize(axis)];
    }

    void setDim(int axis, Dim d) {
        dims[normalize(axis)] = d;
    }

    /** A copy of the per-axis knowledge. */
    public Dim[] dims() {
        return dims.clone();
    }

    /** The concrete shape when every axis is a known number, else null. */
    public long[] knownShape() {
        long[] shape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == null || !dims[i].isKnown()) {
                return null;
            }
            shape[i] = dims[i].value();
        }
        return shape;
    }

    int normalize(int axis) {
        int a = axis < 0 ? axis + dims.length : axis;
        if (a < 0 || a >= dims.length) {
            throw new IllegalArgumentException("axis " + axis + " out of range for rank " + dims.length + " (" + name + ")");
        }
        return a;
    }

    @Override
    public String toString() {
        return name + ":" + type + Arrays.toString(dims).replace("null", "?");
    }
}
