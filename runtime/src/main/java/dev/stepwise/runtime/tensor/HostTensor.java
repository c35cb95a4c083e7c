package dev.stepwise.runtime.tensor;

import dev.stepwise.annotations.DType;
import java.util.Arrays;

/**
 * A small tensor in Java memory: dummy inputs, prompt ids, logits copied out for comparison. Not for weights, which
 * stay memory-mapped. Data is a {@code long[]} for INT64 and a {@code float[]} for FLOAT, row-major.
 */
public record HostTensor(DType type, long[] shape, long[] longs, float[] floats) {

    public static HostTensor ofLongs(long[] data, long... shape) {
        check(data.length, shape);
        return new HostTensor(DType.INT64, shape.clone(), data, null);
    }

    public static HostTensor ofFloats(float[] data, long... shape) {
        check(data.length, shape);
        return new HostTensor(DType.FLOAT, shape.clone(), null, data);
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long size() {
        return elementCount(shape);
    }

    public long dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    /**
     * The largest {@code |this − other|} over two float tensors of the same shape, in double; infinity when any
     * difference is NaN, so a NaN output can never pass a tolerance.
     */
    public double maxAbsDiff(HostTensor other) {
        if (!Arrays.equals(shape, other.shape)) {
            throw new IllegalArgumentException("shapes differ: " + Arrays.toString(shape) + " vs " + Arrays.toString(other.shape));
        }
        double worst = 0;
        for (int i = 0; i < floats.length; i++) {
            double d = Math.abs((double) floats[i] - other.floats[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            worst = Math.max(worst, d);
        }
        return worst;
    }

    /** Float {@code [B, S, V]} → {@code [B, 1, V]}: each row's last position (logits of the next token). */
    public HostTensor lastPosition() {
        if (shape.length != 3 || floats == null) {
            throw new IllegalArgumentException("expected float [batch, sequence, vocab], got " + this);
        }
        int batch = (int) shape[0];
        int seq = (int) shape[1];
        int vocab = (int) shape[2];
        float[] last = new float[batch * vocab];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(floats, (b * seq + seq - 1) * vocab, last, b * vocab, vocab);
        }
        return ofFloats(last, batch, 1, vocab);
    }

    private static void check(int length, long[] shape) {
        if (elementCount(shape) != length) {
            throw new IllegalArgumentException("data of length " + length + " does not fit shape " + Arrays.toString(shape));
        }
    }

    @Override
    public String toString() {
        return type + Arrays.toString(shape);
    }
}
