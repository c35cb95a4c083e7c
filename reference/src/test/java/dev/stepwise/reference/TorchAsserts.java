package dev.stepwise.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.types.DataType;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.Arrays;

/**
 * Shared checks for the eager backend's tests.
 *
 * <p>Tolerance: a float is accepted when {@code |actual - expected| <= 1e-6 * max(1, |expected|)}: relative 1e-6
 * for magnitudes above 1 (a few float32 ulps), absolute 1e-6 below. Expected values are written with float32's
 * 7-8 significant digits. Integer and bool results must match exactly.
 */
final class TorchAsserts {
    static final double TOLERANCE = 1e-6;

    private TorchAsserts() {
    }

    static Dim[] dims(long... sizes) {
        Dim[] d = new Dim[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            d[i] = Dim.of(sizes[i]);
        }
        return d;
    }

    static long[] shape(long... sizes) {
        return sizes;
    }

    static Tensor floats(TorchOps ops, float[] data, long... shape) {
        return ops.input(HostTensor.ofFloats(data, shape));
    }

    static Tensor longs(TorchOps ops, long[] data, long... shape) {
        return ops.input(HostTensor.ofLongs(data, shape));
    }

    /** Booleans made the way a forward makes them: a comparison of int64 values with 0. */
    static Tensor bools(TorchOps ops, boolean[] data, long... shape) {
        long[] l = new long[data.length];
        for (int i = 0; i < data.length; i++) {
            l[i] = data[i] ? 1 : 0;
        }
        return ops.cast(longs(ops, l, shape), DType.BOOL);
    }

    static DataType dataType(Tensor t) {
        return ((TorchTensor) t).array().getDataType();
    }

    static void assertFloats(TorchOps ops, long[] expectedShape, float[] expected, Tensor actual) {
        assertFloats(ops, expectedShape, expected, actual, TOLERANCE);
    }

    static void assertFloats(TorchOps ops, long[] expectedShape, float[] expected, Tensor actual, double tolerance) {
        assertEquals(DataType.FLOAT32, dataType(actual), "dtype");
        HostTensor h = ops.toHost(actual);
        assertArrayEquals(expectedShape, h.shape(), "shape");
        assertClose(expected, h.floats(), tolerance);
    }

    static void assertClose(float[] expected, float[] actual, double tolerance) {
        assertEquals(expected.length, actual.length, "element count");
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            if (!(diff <= tolerance * Math.max(1.0, Math.abs(expected[i])))) {
                fail("element " + i + ": expected " + expected[i] + " but was " + actual[i] + "\n expected "
                        + Arrays.toString(expected) + "\n actual   " + Arrays.toString(actual));
            }
        }
    }

    static void assertLongs(TorchOps ops, long[] expectedShape, long[] expected, Tensor actual) {
        assertEquals(DataType.INT64, dataType(actual), "dtype");
        HostTensor h = ops.toHost(actual);
        assertArrayEquals(expectedShape, h.shape(), "shape");
        assertArrayEquals(expected, h.longs());
    }

    static void assertBools(TorchOps ops, long[] expectedShape, boolean[] expected, Tensor actual) {
        assertEquals(DataType.BOOLEAN, dataType(actual), "dtype");
        HostTensor h = ops.toHost(actual);
        assertArrayEquals(expectedShape, h.shape(), "shape");
        long[] l = new long[expected.length];
        for (int i = 0; i < expected.length; i++) {
            l[i] = expected[i] ? 1 : 0;
        }
        assertArrayEquals(l, h.longs());
    }

    static void assertShape(long[] expected, Tensor actual) {
        assertArrayEquals(expected, ((TorchTensor) actual).shape(), "shape");
    }
}
