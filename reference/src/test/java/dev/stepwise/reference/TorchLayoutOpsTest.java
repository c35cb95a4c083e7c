package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertBools;
import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.assertLongs;
import static dev.stepwise.reference.TorchAsserts.assertShape;
import static dev.stepwise.reference.TorchAsserts.dataType;
import static dev.stepwise.reference.TorchAsserts.dims;
import static dev.stepwise.reference.TorchAsserts.floats;
import static dev.stepwise.reference.TorchAsserts.longs;
import static dev.stepwise.reference.TorchAsserts.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.types.DataType;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Shape and layout ops: dims, reshape, transpose, concat, slice, unsqueeze, gather, cast. */
class TorchLayoutOpsTest {
    private TorchOps ops;

    @BeforeEach
    void open() {
        ops = new TorchOps(new MapWeightSource());
    }

    @AfterEach
    void close() {
        ops.close();
    }

    private Tensor iota(long... shape) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return floats(ops, v, shape);
    }

    @Test
    void dimsAreKnownAndNegativeAxesCountFromTheEnd() {
        Tensor x = iota(2, 3, 4);
        assertEquals(3, x.rank());
        assertEquals(2, ops.dim(x, 0).value());
        assertEquals(4, ops.dim(x, -1).value());
        assertEquals(3, ops.dim(x, -2).value());
        assertEquals(true, ops.dim(x, 1).isKnown());
        assertEquals(7, ops.add(Dim.of(3), Dim.of(4)).value());
        assertEquals(-1, ops.sub(Dim.of(3), Dim.of(4)).value());
        assertEquals(12, ops.mul(Dim.of(3), Dim.of(4)).value());
        assertLongs(ops, shape(1), new long[] {5}, ops.dimTensor(Dim.of(5)));
        assertThrows(IllegalArgumentException.class, () -> ops.dim(x, 3));
    }

    @Test
    void reshapeKeepsRowMajorOrderAndInfersOneMinusOne() {
        Tensor x = iota(2, 3, 2);
        float[] all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        assertFloats(ops, shape(3, 4), all, ops.reshape(x, dims(3, -1)));
        assertFloats(ops, shape(12), all, ops.reshape(x, dims(-1)));
        assertFloats(ops, shape(2, 1, 6), all, ops.reshape(x, dims(2, 1, -1)));
        assertThrows(IllegalArgumentException.class, () -> ops.reshape(x, dims(-1, -1)));
    }

    @Test
    void reshapeTreatsZeroAsAnEmptyAxis() {
        Tensor empty = floats(ops, new float[0], 2, 4, 0, 8);
        assertShape(shape(2, 0, 4, 8), ops.reshape(empty, dims(2, 0, 4, 8)));
        assertShape(shape(2, 4, 0, 2, 4), ops.reshape(empty, dims(2, 4, 0, 2, 4)));
    }

    @Test
    void transposePermutesAxes() {
        // [[0,1,2],[3,4,5]]^T = [[0,3],[1,4],[2,5]]
        Tensor x = iota(2, 3);
        assertFloats(ops, shape(3, 2), new float[] {0, 3, 1, 4, 2, 5}, ops.transpose(x, 1, 0));
        assertFloats(ops, shape(3, 2), new float[] {0, 3, 1, 4, 2, 5}, ops.transpose(x, -1, -2));
        assertFloats(ops, shape(3, 2), new float[] {0, 3, 1, 4, 2, 5}, ops.transpose(x));
        // [2,2,3] with perm (0,2,1): out[b][j][i] = in[b][i][j]
        Tensor y = iota(2, 2, 3);
        assertFloats(ops, shape(2, 3, 2), new float[] {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11}, ops.transpose(y, 0, 2, 1));
        // perm (1,0,2) moves the middle axis out: heads-first layout
        assertFloats(ops, shape(2, 2, 3), new float[] {0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11}, ops.transpose(y, 1, 0, 2));
        assertThrows(IllegalArgumentException.class, () -> ops.transpose(y, 0, 1));
    }

    @Test
    void concatJoinsAlongAnAxis() {
        Tensor a = floats(ops, new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = floats(ops, new float[] {5, 6}, 2, 1);
        Tensor c = floats(ops, new float[] {7, 8}, 1, 2);
        assertFloats(ops, shape(2, 3), new float[] {1, 2, 5, 3, 4, 6}, ops.concat(-1, a, b));
        assertFloats(ops, shape(2, 3), new float[] {1, 2, 5, 3, 4, 6}, ops.concat(1, a, b));
        assertFloats(ops, shape(3, 2), new float[] {1, 2, 3, 4, 7, 8}, ops.concat(0, a, c));
        assertFloats(ops, shape(2, 5), new float[] {5, 1, 2, 5, 5, 6, 3, 4, 6, 6}, ops.concat(1, b, a, b, b));
        assertThrows(IllegalArgumentException.class, () -> ops.concat(0));
    }

    @Test
    void concatWithAnEmptyPastIsHowPrefillWorks() {
        Tensor past = floats(ops, new float[0], 2, 4, 0, 8);
        float[] v = new float[2 * 4 * 3 * 8];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.5f;
        }
        Tensor present = floats(ops, v, 2, 4, 3, 8);
        assertFloats(ops, shape(2, 4, 3, 8), v, ops.concat(2, past, present));
        assertFloats(ops, shape(2, 4, 3, 8), v, ops.concat(-2, past, present));
        // and both empty stays empty
        assertShape(shape(2, 4, 0, 8), ops.concat(2, past, past));
    }

    @Test
    void sliceUsesPythonBounds() {
        Tensor x = iota(2, 4); // [[0,1,2,3],[4,5,6,7]]
        assertFloats(ops, shape(2, 2), new float[] {1, 2, 5, 6}, ops.slice(x, 1, Dim.of(1), Dim.of(3)));
        assertFloats(ops, shape(1, 4), new float[] {4, 5, 6, 7}, ops.slice(x, 0, Dim.of(1), Dim.of(2)));
        assertFloats(ops, shape(2, 2), new float[] {2, 3, 6, 7}, ops.slice(x, -1, Dim.of(-2), Dim.of(Long.MAX_VALUE)));
        assertFloats(ops, shape(2, 3), new float[] {1, 2, 3, 5, 6, 7}, ops.slice(x, 1, Dim.of(1), Dim.of(100)));
        assertFloats(ops, shape(2, 3), new float[] {0, 1, 2, 4, 5, 6}, ops.slice(x, 1, Dim.of(0), Dim.of(-1)));
        assertShape(shape(2, 0), ops.slice(x, 1, Dim.of(2), Dim.of(2)));
    }

    @Test
    void unsqueezeAxesArePositionsInTheOutput() {
        Tensor v = floats(ops, new float[] {1, 2, 3}, 3);
        assertFloats(ops, shape(1, 3), new float[] {1, 2, 3}, ops.unsqueeze(v, 0));
        assertFloats(ops, shape(3, 1), new float[] {1, 2, 3}, ops.unsqueeze(v, -1));
        assertFloats(ops, shape(1, 3, 1), new float[] {1, 2, 3}, ops.unsqueeze(v, 0, 2));
        assertFloats(ops, shape(1, 3, 1), new float[] {1, 2, 3}, ops.unsqueeze(v, 2, 0));
        Tensor m = iota(2, 3);
        assertShape(shape(2, 1, 3, 1), ops.unsqueeze(m, 1, -1));
        assertShape(shape(1, 1, 2, 3), ops.unsqueeze(m, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> ops.unsqueeze(v, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> ops.unsqueeze(v, 2));
    }

    @Test
    void gatherIsAnEmbeddingLookup() {
        // row i = [10i, 10i+1, 10i+2]
        Tensor table = floats(ops, new float[] {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, 4, 3);
        Tensor ids = longs(ops, new long[] {3, 0, 1, 1}, 2, 2);
        assertFloats(ops, shape(2, 2, 3), new float[] {30, 31, 32, 0, 1, 2, 10, 11, 12, 10, 11, 12}, ops.gather(table, ids));
        Tensor one = longs(ops, new long[] {2}, 1);
        assertFloats(ops, shape(1, 3), new float[] {20, 21, 22}, ops.gather(table, one));
        Tensor scalarIndex = longs(ops, new long[] {1});
        assertFloats(ops, shape(3), new float[] {10, 11, 12}, ops.gather(table, scalarIndex));
    }

    @Test
    void gatherWorksForTablesOfAnyRank() {
        Tensor vector = floats(ops, new float[] {10, 20, 30, 40, 50}, 5);
        assertFloats(ops, shape(2), new float[] {50, 10}, ops.gather(vector, longs(ops, new long[] {4, 0}, 2)));
        Tensor cube = iota(3, 2, 2);
        assertFloats(ops, shape(2, 2, 2), new float[] {8, 9, 10, 11, 0, 1, 2, 3},
                ops.gather(cube, longs(ops, new long[] {2, 0}, 2)));
        Tensor ids = longs(ops, new long[] {1, 1}, 1, 2);
        assertFloats(ops, shape(1, 2, 2, 2), new float[] {4, 5, 6, 7, 4, 5, 6, 7}, ops.gather(cube, ids));
        Tensor longTable = longs(ops, new long[] {7, 8, 9}, 3);
        assertLongs(ops, shape(2), new long[] {9, 7}, ops.gather(longTable, longs(ops, new long[] {2, 0}, 2)));
    }

    @Test
    void castConvertsBetweenElementTypes() {
        Tensor f = floats(ops, new float[] {1.7f, -1.7f, 0f, 3f}, 4);
        assertLongs(ops, shape(4), new long[] {1, -1, 0, 3}, ops.cast(f, DType.INT64)); // truncation toward zero
        Tensor i32 = ops.cast(f, DType.INT32);
        assertEquals(DataType.INT32, dataType(i32));
        assertArrayEquals(new long[] {1, -1, 0, 3}, ops.toHost(i32).longs());
        assertBools(ops, shape(4), new boolean[] {true, true, false, true}, ops.cast(f, DType.BOOL));
        Tensor half = ops.cast(f, DType.FLOAT16);
        assertEquals(DataType.FLOAT16, dataType(half));
        // 1.7 is not exact in half precision: the nearest half is 1.7001953125
        TorchAsserts.assertClose(new float[] {1.7001953f, -1.7001953f, 0f, 3f}, ops.toHost(half).floats(), 1e-7);
        Tensor l = longs(ops, new long[] {2, -5}, 2);
        assertFloats(ops, shape(2), new float[] {2f, -5f}, ops.cast(l, DType.FLOAT));
        assertFloats(ops, shape(4), new float[] {1f, 1f, 0f, 1f}, ops.cast(ops.cast(f, DType.BOOL), DType.FLOAT));
        assertSame(f, ops.cast(f, DType.FLOAT));
    }
}
