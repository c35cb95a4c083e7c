package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.assertLongs;
import static dev.stepwise.reference.TorchAsserts.floats;
import static dev.stepwise.reference.TorchAsserts.longs;
import static dev.stepwise.reference.TorchAsserts.shape;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Element-wise arithmetic with numpy broadcasting, matmuls, activations, softmax, layer norm, mean. */
class TorchMathOpsTest {
    private TorchOps ops;
    private Tensor m23; // [[1,2,3],[4,5,6]]

    @BeforeEach
    void open() {
        ops = new TorchOps(new MapWeightSource());
        m23 = floats(ops, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    }

    @AfterEach
    void close() {
        ops.close();
    }

    @Test
    void addBroadcastsLikeNumpy() {
        Tensor row = floats(ops, new float[] {10, 20, 30}, 3);
        Tensor col = floats(ops, new float[] {100, 200}, 2, 1);
        assertFloats(ops, shape(2, 3), new float[] {11, 22, 33, 14, 25, 36}, ops.add(m23, row));
        assertFloats(ops, shape(2, 3), new float[] {11, 22, 33, 14, 25, 36}, ops.add(row, m23));
        assertFloats(ops, shape(2, 3), new float[] {101, 102, 103, 204, 205, 206}, ops.add(m23, col));
        assertFloats(ops, shape(2, 3), new float[] {110, 120, 130, 210, 220, 230}, ops.add(col, ops.unsqueeze(row, 0)));
        assertFloats(ops, shape(2, 3), new float[] {1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}, ops.add(m23, ops.scalar(0.5f)));
        Tensor rank4 = floats(ops, new float[] {1, 2}, 2, 1, 1, 1);
        assertFloats(ops, shape(2, 1, 2, 3), new float[] {2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8}, ops.add(rank4, m23));
        assertLongs(ops, shape(2), new long[] {4, 6}, ops.add(longs(ops, new long[] {1, 2}, 2), longs(ops, new long[] {3, 4}, 2)));
        assertThrows(RuntimeException.class, () -> ops.add(m23, floats(ops, new float[] {1, 2}, 2)));
    }

    @Test
    void subMulDivBroadcast() {
        Tensor row = floats(ops, new float[] {1, 2, 4}, 3);
        assertFloats(ops, shape(2, 3), new float[] {0, 0, -1, 3, 3, 2}, ops.sub(m23, row));
        assertFloats(ops, shape(2, 3), new float[] {1, 4, 12, 4, 10, 24}, ops.mul(m23, row));
        assertFloats(ops, shape(2, 3), new float[] {1, 1, 0.75f, 4, 2.5f, 1.5f}, ops.div(m23, row));
        assertFloats(ops, shape(2, 3), new float[] {0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f}, ops.div(m23, ops.scalar(8f)));
        assertLongs(ops, shape(1), new long[] {-1}, ops.sub(longs(ops, new long[] {2}, 1), longs(ops, new long[] {3}, 1)));
    }

    @Test
    void integerDivisionTruncatesTowardZeroLikeOnnx() {
        Tensor a = longs(ops, new long[] {7, -7, 9, 6, (1L << 40) + 3}, 5);
        Tensor b = longs(ops, new long[] {2, 2, -4, 3, 2}, 5);
        assertLongs(ops, shape(5), new long[] {3, -3, -2, 2, (1L << 39) + 1}, ops.div(a, b));
    }

    @Test
    void matmulMultipliesBatchedMatrices() {
        Tensor b = floats(ops, new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
        assertFloats(ops, shape(2, 2), new float[] {58, 64, 139, 154}, ops.matmul(m23, b));
        // a batch of [A, 2A] against one B broadcasts B
        Tensor batch = floats(ops, new float[] {1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12}, 2, 2, 3);
        assertFloats(ops, shape(2, 2, 2), new float[] {58, 64, 139, 154, 116, 128, 278, 308}, ops.matmul(batch, b));
        // [2,1,2,3] x [1,2,3,2]: batch dims broadcast to [2,2]; second B is 1 everywhere
        Tensor bs = floats(ops, new float[] {7, 8, 9, 10, 11, 12, 1, 1, 1, 1, 1, 1}, 1, 2, 3, 2);
        Tensor as = ops.reshape(batch, TorchAsserts.dims(2, 1, 2, 3));
        assertFloats(ops, shape(2, 2, 2, 2),
                new float[] {58, 64, 139, 154, 6, 6, 15, 15, 116, 128, 278, 308, 12, 12, 30, 30}, ops.matmul(as, bs));
        // one query row against a transposed view: attention scores for decode
        Tensor q = floats(ops, new float[] {1, 0, 1}, 1, 3);
        assertFloats(ops, shape(1, 2), new float[] {4, 10}, ops.matmul(q, ops.transpose(m23, 1, 0)));
    }

    @Test
    void matmulTransposedBIsATiedLmHead() {
        Tensor bt = floats(ops, new float[] {7, 9, 11, 8, 10, 12}, 2, 3); // B^T of the matmul test
        assertFloats(ops, shape(2, 2), new float[] {58, 64, 139, 154}, ops.matmulTransposedB(m23, bt));
        Tensor hidden = ops.reshape(m23, TorchAsserts.dims(1, 2, 3));
        assertFloats(ops, shape(1, 2, 2), new float[] {58, 64, 139, 154}, ops.matmulTransposedB(hidden, bt));
        Tensor vocab = floats(ops, new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, 4, 3);
        assertFloats(ops, shape(2, 4), new float[] {1, 2, 3, 6, 4, 5, 6, 15}, ops.matmulTransposedB(m23, vocab));
        assertThrows(IllegalArgumentException.class, () -> ops.matmulTransposedB(m23, hidden));
    }

    @Test
    void powSqrtNeg() {
        assertFloats(ops, shape(2, 3), new float[] {1, 4, 9, 16, 25, 36}, ops.pow(m23, 2f));
        Tensor v = floats(ops, new float[] {4, 9, 2}, 3);
        assertFloats(ops, shape(3), new float[] {2, 3, 1.4142135f}, ops.pow(v, 0.5f));
        assertFloats(ops, shape(3), new float[] {0.25f, 0.11111111f, 0.5f}, ops.pow(v, -1f));
        assertFloats(ops, shape(3), new float[] {2, 3, 1.4142135f}, ops.sqrt(v));
        assertFloats(ops, shape(3), new float[] {-4, -9, -2}, ops.neg(v));
        assertLongs(ops, shape(2), new long[] {-1, 2}, ops.neg(longs(ops, new long[] {1, -2}, 2)));
    }

    @Test
    void activations() {
        Tensor x = floats(ops, new float[] {0, 1, -1, 2}, 4);
        assertFloats(ops, shape(4), new float[] {0, 0.7615942f, -0.7615942f, 0.9640276f}, ops.tanh(x));
        assertFloats(ops, shape(4), new float[] {1, 2.7182817f, 0.36787944f, 7.389056f}, ops.exp(x));
        assertFloats(ops, shape(4), new float[] {0, 1, 0, 2}, ops.relu(x));
        assertFloats(ops, shape(4), new float[] {0.5f, 0.7310586f, 0.26894143f, 0.8807971f}, ops.sigmoid(x));
    }

    @Test
    void geluIsTheExactErfForm() {
        Tensor x = floats(ops, new float[] {1, -1, 0, 2, -3, 0.5f}, 6);
        // x/2 * (1 + erf(x / sqrt 2)); the tanh approximation would give 0.8411920 at 1.0
        float[] expected = {0.8413447f, -0.15865526f, 0f, 1.9544997f, -0.004049694f, 0.34573123f};
        assertFloats(ops, shape(6), expected, ops.gelu(x));
        TorchAsserts.assertClose(new float[] {0.8413447f}, new float[] {ops.toHost(ops.gelu(ops.scalar(1f))).floats()[0]}, 1e-7);
    }

    @Test
    void sinCos() {
        Tensor x = floats(ops, new float[] {0, (float) (Math.PI / 2), 1}, 3);
        assertFloats(ops, shape(3), new float[] {0, 1, 0.84147096f}, ops.sin(x));
        assertFloats(ops, shape(3), new float[] {1, -4.371139e-8f, 0.5403023f}, ops.cos(x));
    }

    @Test
    void softmaxAlongTheLastAxisGivesRowsSummingToOne() {
        Tensor x = floats(ops, new float[] {1, 2, 3, 1, 1, 1, 1000, 1000, -1000}, 3, 3);
        Tensor p = ops.softmax(x, -1);
        float third = 1f / 3f;
        assertFloats(ops, shape(3, 3), new float[] {0.09003057f, 0.24472847f, 0.66524096f, third, third, third, 0.5f, 0.5f, 0f}, p);
        float[] v = ops.toHost(p).floats();
        for (int r = 0; r < 3; r++) {
            TorchAsserts.assertClose(new float[] {1f}, new float[] {v[3 * r] + v[3 * r + 1] + v[3 * r + 2]}, 1e-6);
        }
    }

    @Test
    void softmaxAlongAnyAxis() {
        Tensor x = floats(ops, new float[] {0, 1, 0, 3}, 2, 2); // columns [0,0] and [1,3]
        assertFloats(ops, shape(2, 2), new float[] {0.5f, 0.11920292f, 0.5f, 0.8807971f}, ops.softmax(x, 0));
        assertFloats(ops, shape(2, 2), new float[] {0.5f, 0.11920292f, 0.5f, 0.8807971f}, ops.softmax(x, -2));
        Tensor x3 = ops.reshape(x, TorchAsserts.dims(2, 1, 2));
        assertFloats(ops, shape(2, 1, 2), new float[] {1, 1, 1, 1}, ops.softmax(x3, 1));
    }

    @Test
    void layerNormMatchesAHandComputation() {
        // row 1: mean 2.5, variance 1.25 (biased); row 2 is constant, so it normalizes to 0 and returns beta
        Tensor x = floats(ops, new float[] {1, 2, 3, 4, 2, 2, 2, 2}, 2, 4);
        Tensor gamma = floats(ops, new float[] {1, 2, 1, 0.5f}, 4);
        Tensor beta = floats(ops, new float[] {0.5f, 0, 0, -1}, 4);
        double s = Math.sqrt(1.25 + 1e-5);
        float[] n = {(float) (-1.5 / s), (float) (-0.5 / s), (float) (0.5 / s), (float) (1.5 / s)};
        assertFloats(ops, shape(2, 4), new float[] {
            n[0] + 0.5f, 2 * n[1], n[2], 0.5f * n[3] - 1,
            0.5f, 0, 0, -1}, ops.layerNorm(x, gamma, beta, 1e-5f));
        assertFloats(ops, shape(2, 4), new float[] {
            n[0], 2 * n[1], n[2], 0.5f * n[3],
            0, 0, 0, 0}, ops.layerNorm(x, gamma, null, 1e-5f));
        // eps matters: with eps = 0.75 row 1 divides by sqrt(2)
        float r = (float) Math.sqrt(2);
        Tensor ones = floats(ops, new float[] {1, 1, 1, 1}, 4);
        Tensor x3 = ops.reshape(x, TorchAsserts.dims(2, 1, 4));
        assertFloats(ops, shape(2, 1, 4), new float[] {-1.5f / r, -0.5f / r, 0.5f / r, 1.5f / r, 0, 0, 0, 0},
                ops.layerNorm(x3, ones, null, 0.75f));
    }

    @Test
    void reduceMeanWithAndWithoutKeptAxes() {
        assertFloats(ops, shape(2), new float[] {2, 5}, ops.reduceMean(m23, 1, false));
        assertFloats(ops, shape(2, 1), new float[] {2, 5}, ops.reduceMean(m23, -1, true));
        assertFloats(ops, shape(1, 3), new float[] {2.5f, 3.5f, 4.5f}, ops.reduceMean(m23, -2, true));
        assertFloats(ops, shape(3), new float[] {2.5f, 3.5f, 4.5f}, ops.reduceMean(m23, 0, false));
    }
}
