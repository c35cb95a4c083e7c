package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertBools;
import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.assertLongs;
import static dev.stepwise.reference.TorchAsserts.bools;
import static dev.stepwise.reference.TorchAsserts.dataType;
import static dev.stepwise.reference.TorchAsserts.floats;
import static dev.stepwise.reference.TorchAsserts.longs;
import static dev.stepwise.reference.TorchAsserts.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.types.DataType;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Index and mask ops: range, cumsum, comparisons, logical and, where; and the constants they start from. */
class TorchMaskOpsTest {
    private TorchOps ops;

    @BeforeEach
    void open() {
        ops = new TorchOps(new MapWeightSource());
    }

    @AfterEach
    void close() {
        ops.close();
    }

    @Test
    void constants() {
        Tensor s = ops.scalar(2.5f);
        assertEquals(0, s.rank());
        assertFloats(ops, shape(), new float[] {2.5f}, s);
        assertLongs(ops, shape(3), new long[] {4, -1, Long.MAX_VALUE}, ops.longs(4, -1, Long.MAX_VALUE));
        assertLongs(ops, shape(0), new long[0], ops.longs());
    }

    @Test
    void rangeIsInt64AndHalfOpen() {
        assertLongs(ops, shape(3), new long[] {2, 3, 4}, ops.range(Dim.of(2), Dim.of(5)));
        assertLongs(ops, shape(1), new long[] {7}, ops.range(Dim.of(7), Dim.of(8)));
        assertLongs(ops, shape(0), new long[0], ops.range(Dim.of(4), Dim.of(4)));
        assertLongs(ops, shape(0), new long[0], ops.range(Dim.of(5), Dim.of(3)));
        long big = (1L << 40) + 1; // not representable as a float: must still be exact
        assertLongs(ops, shape(3), new long[] {big, big + 1, big + 2}, ops.range(Dim.of(big), Dim.of(big + 3)));
    }

    @Test
    void cumsumKeepsTheElementType() {
        Tensor mask = longs(ops, new long[] {1, 1, 0, 0, 1, 1}, 2, 3);
        assertLongs(ops, shape(2, 3), new long[] {1, 2, 2, 0, 1, 2}, ops.cumsum(mask, 1));
        assertLongs(ops, shape(2, 3), new long[] {1, 2, 2, 0, 1, 2}, ops.cumsum(mask, -1));
        assertLongs(ops, shape(2, 3), new long[] {1, 1, 0, 1, 2, 1}, ops.cumsum(mask, 0));
        Tensor f = floats(ops, new float[] {0.5f, 0.25f, 1f}, 3);
        assertFloats(ops, shape(3), new float[] {0.5f, 0.75f, 1.75f}, ops.cumsum(f, 0));
        Tensor i32 = ops.cast(mask, DType.INT32);
        Tensor c32 = ops.cumsum(i32, 1);
        assertEquals(DataType.INT32, dataType(c32));
        assertArrayEquals(new long[] {1, 2, 2, 0, 1, 2}, ops.toHost(c32).longs());
    }

    @Test
    void positionIdsFromALeftPaddedMask() {
        // transformers: position_ids = attention_mask.cumsum(-1) - 1, then 1 where the mask is 0
        Tensor mask = longs(ops, new long[] {0, 0, 1, 1, 1, 1, 1, 1}, 2, 4);
        Tensor pos = ops.sub(ops.cumsum(mask, -1), ops.longs(1));
        Tensor padded = ops.lessOrEqual(mask, ops.longs(0));
        assertLongs(ops, shape(2, 4), new long[] {1, 1, 0, 1, 0, 1, 2, 3}, ops.where(padded, ops.longs(1), pos));
    }

    @Test
    void comparisonsGiveBoolsAndBroadcast() {
        Tensor a = longs(ops, new long[] {1, 2, 3}, 3);
        assertBools(ops, shape(3), new boolean[] {true, true, false}, ops.lessOrEqual(a, ops.longs(2)));
        assertBools(ops, shape(3), new boolean[] {false, false, true}, ops.greater(a, ops.longs(2)));
        Tensor f = floats(ops, new float[] {1, 2}, 2);
        assertBools(ops, shape(2), new boolean[] {false, true}, ops.greater(f, ops.scalar(1.5f)));
        assertBools(ops, shape(2), new boolean[] {true, false}, ops.lessOrEqual(f, ops.scalar(1f)));
        // causal mask: key position j visible from query position i when j <= i
        Tensor keys = ops.unsqueeze(ops.range(Dim.of(0), Dim.of(3)), 0);
        Tensor queries = ops.unsqueeze(ops.range(Dim.of(0), Dim.of(3)), -1);
        assertBools(ops, shape(3, 3), new boolean[] {
            true, false, false,
            true, true, false,
            true, true, true}, ops.lessOrEqual(keys, queries));
    }

    @Test
    void logicalAndBroadcasts() {
        Tensor a = bools(ops, new boolean[] {true, true, false, false}, 4);
        Tensor b = bools(ops, new boolean[] {true, false, true, false}, 4);
        assertBools(ops, shape(4), new boolean[] {true, false, false, false}, ops.and(a, b));
        Tensor col = bools(ops, new boolean[] {true, false}, 2, 1);
        Tensor row = bools(ops, new boolean[] {true, false, true}, 1, 3);
        assertBools(ops, shape(2, 3), new boolean[] {true, false, true, false, false, false}, ops.and(col, row));
    }

    @Test
    void whereSelectsWithBroadcastBoolMasks() {
        Tensor cond = bools(ops, new boolean[] {true, false, false, true}, 2, 2);
        Tensor a = floats(ops, new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = floats(ops, new float[] {-1, -2, -3, -4}, 2, 2);
        assertFloats(ops, shape(2, 2), new float[] {1, -2, -3, 4}, ops.where(cond, a, b));
        // a [1,3] mask over a [2,3] tensor with a scalar fill: the attention-mask pattern
        Tensor keep = bools(ops, new boolean[] {false, true, true}, 1, 3);
        Tensor scores = floats(ops, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        float min = -Float.MAX_VALUE;
        assertFloats(ops, shape(2, 3), new float[] {min, 2, 3, min, 5, 6}, ops.where(keep, scores, ops.scalar(min)));
        // every operand broadcasts: [2,1] cond, [1,3] a, scalar b
        Tensor c2 = bools(ops, new boolean[] {true, false}, 2, 1);
        Tensor row = floats(ops, new float[] {7, 8, 9}, 1, 3);
        assertFloats(ops, shape(2, 3), new float[] {7, 8, 9, 0, 0, 0}, ops.where(c2, row, ops.scalar(0f)));
        assertLongs(ops, shape(2), new long[] {5, -5},
                ops.where(bools(ops, new boolean[] {true, false}, 2), ops.longs(5), ops.longs(-5)));
        assertThrows(IllegalArgumentException.class, () -> ops.where(a, a, b));
    }
}
