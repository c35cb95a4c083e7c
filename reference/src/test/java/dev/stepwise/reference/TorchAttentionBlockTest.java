package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.assertShape;
import static dev.stepwise.reference.TorchAsserts.dims;
import static dev.stepwise.reference.TorchAsserts.shape;

import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A tiny pre-norm self-attention block (hidden 4, 2 heads of 2, KV cache, causal and padding masks) written once
 * against {@link Ops} and run eagerly, compared with the same block as plain Java loops in double precision.
 * Tolerance 1e-5 (relative above 1, absolute below): float32 rounding through a layer norm and three matmuls.
 */
class TorchAttentionBlockTest {
    private static final int HIDDEN = 4;
    private static final int HEADS = 2;
    private static final int HEAD_DIM = 2;
    private static final double TOLERANCE = 1e-5;
    private static final String[] LINEARS = {"q", "k", "v", "o"};

    private MapWeightSource weights;
    private TorchOps ops;

    @BeforeEach
    void open() {
        Random random = new Random(42);
        weights = new MapWeightSource()
                .put("ln.weight", randoms(random, HIDDEN), HIDDEN)
                .put("ln.bias", randoms(random, HIDDEN), HIDDEN);
        for (String p : LINEARS) {
            weights.put(p + ".weight", randoms(random, HIDDEN * HIDDEN), HIDDEN, HIDDEN) // nn.Linear [out, in]
                    .put(p + ".bias", randoms(random, HIDDEN), HIDDEN);
        }
        ops = new TorchOps(weights);
    }

    @AfterEach
    void close() {
        ops.close();
    }

    /** Output of the block and its present key/value. */
    private record Step(Tensor out, Tensor key, Tensor value) {
    }

    // ---- the block, against Ops ----

    private static Tensor linear(Ops ops, Tensor x, String name) {
        return ops.add(ops.matmul(x, ops.weightTransposed(name + ".weight")), ops.weight(name + ".bias"));
    }

    private static Tensor splitHeads(Ops ops, Tensor x, Dim seq) {
        Tensor r = ops.reshape(x, Dim.of(1), seq, Dim.of(HEADS), Dim.of(HEAD_DIM));
        return ops.transpose(r, 0, 2, 1, 3);
    }

    /** x [1, S, 4]; past [1, 2, P, 2]; mask int64 [1, P + S]. */
    private static Step block(Ops ops, Tensor x, Tensor pastKey, Tensor pastValue, Tensor mask) {
        Dim seq = ops.dim(x, 1);
        Dim past = ops.dim(pastKey, 2);
        Dim total = ops.add(past, seq);
        Tensor h = ops.layerNorm(x, ops.weight("ln.weight"), ops.weight("ln.bias"), 1e-5f);
        Tensor q = splitHeads(ops, linear(ops, h, "q"), seq);
        Tensor k = ops.concat(2, pastKey, splitHeads(ops, linear(ops, h, "k"), seq));
        Tensor v = ops.concat(-2, pastValue, splitHeads(ops, linear(ops, h, "v"), seq));
        Tensor scores = ops.mul(ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)), ops.scalar((float) (1 / Math.sqrt(HEAD_DIM))));
        // key j is visible from the query at absolute position P + i when j <= P + i and j is not padding
        Tensor keyPos = ops.unsqueeze(ops.range(Dim.of(0), total), 0);
        Tensor queryPos = ops.unsqueeze(ops.range(past, total), -1);
        Tensor causal = ops.lessOrEqual(keyPos, queryPos);
        Tensor notPadding = ops.greater(ops.unsqueeze(mask, 1, 2), ops.longs(0));
        Tensor allowed = ops.and(causal, notPadding);
        Tensor probs = ops.softmax(ops.where(allowed, scores, ops.scalar(-Float.MAX_VALUE)), -1);
        Tensor context = ops.transpose(ops.matmul(probs, v), 0, 2, 1, 3);
        Tensor merged = ops.reshape(context, Dim.of(1), seq, Dim.of(-1));
        return new Step(ops.add(x, linear(ops, merged, "o")), k, v);
    }

    // ---- the same block, as loops ----

    /** Block output for query rows [from, to) of x, attending over keys [0, keys). */
    private double[][] reference(float[][] x, long[] mask, int keys, int from, int to) {
        double[][] h = new double[keys][];
        double[][] kk = new double[keys][];
        double[][] vv = new double[keys][];
        for (int t = 0; t < keys; t++) {
            h[t] = layerNorm(x[t]);
            kk[t] = linear(h[t], "k");
            vv[t] = linear(h[t], "v");
        }
        double[][] out = new double[to - from][];
        for (int i = from; i < to; i++) {
            double[] q = linear(h[i], "q");
            double[] context = new double[HIDDEN];
            for (int head = 0; head < HEADS; head++) {
                int o = head * HEAD_DIM;
                double[] s = new double[keys];
                boolean any = false;
                for (int j = 0; j < keys; j++) {
                    boolean visible = j <= i && mask[j] != 0;
                    any |= visible;
                    double dot = 0;
                    for (int d = 0; d < HEAD_DIM; d++) {
                        dot += q[o + d] * kk[j][o + d];
                    }
                    s[j] = visible ? dot / Math.sqrt(HEAD_DIM) : Double.NEGATIVE_INFINITY;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double v : s) {
                    max = Math.max(max, v);
                }
                double sum = 0;
                double[] p = new double[keys];
                for (int j = 0; j < keys; j++) {
                    // a row with nothing visible is all "min" scores: softmax makes it uniform
                    p[j] = any ? Math.exp(s[j] - max) : 1;
                    sum += p[j];
                }
                for (int j = 0; j < keys; j++) {
                    for (int d = 0; d < HEAD_DIM; d++) {
                        context[o + d] += p[j] / sum * vv[j][o + d];
                    }
                }
            }
            double[] proj = linear(context, "o");
            out[i - from] = new double[HIDDEN];
            for (int c = 0; c < HIDDEN; c++) {
                out[i - from][c] = x[i][c] + proj[c];
            }
        }
        return out;
    }

    private double[] layerNorm(float[] x) {
        double mean = 0;
        for (float v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= x.length;
        float[] g = host("ln.weight");
        float[] b = host("ln.bias");
        double[] y = new double[x.length];
        for (int c = 0; c < x.length; c++) {
            y[c] = (x[c] - mean) / Math.sqrt(var + 1e-5) * g[c] + b[c];
        }
        return y;
    }

    private double[] linear(double[] x, String name) {
        float[] w = host(name + ".weight");
        float[] b = host(name + ".bias");
        double[] y = new double[HIDDEN];
        for (int o = 0; o < HIDDEN; o++) {
            y[o] = b[o];
            for (int i = 0; i < HIDDEN; i++) {
                y[o] += w[o * HIDDEN + i] * x[i];
            }
        }
        return y;
    }

    private float[] host(String name) {
        java.nio.FloatBuffer f = weights.float32(name).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] a = new float[f.remaining()];
        f.get(a);
        return a;
    }

    private static float[] randoms(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = random.nextFloat() * 2 - 1;
        }
        return a;
    }

    private static float[][] sequence(Random random, int length) {
        float[][] x = new float[length][];
        for (int t = 0; t < length; t++) {
            x[t] = randoms(random, HIDDEN);
        }
        return x;
    }

    private Tensor rows(float[][] x, int from, int to) {
        float[] flat = new float[(to - from) * HIDDEN];
        for (int t = from; t < to; t++) {
            System.arraycopy(x[t], 0, flat, (t - from) * HIDDEN, HIDDEN);
        }
        return ops.input(HostTensor.ofFloats(flat, 1, to - from, HIDDEN));
    }

    private static float[] flatten(double[][] rows) {
        float[] f = new float[rows.length * HIDDEN];
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < HIDDEN; c++) {
                f[r * HIDDEN + c] = (float) rows[r][c];
            }
        }
        return f;
    }

    private Tensor emptyPast() {
        return ops.input(HostTensor.ofFloats(new float[0], 1, HEADS, 0, HEAD_DIM));
    }

    @Test
    void prefillThenDecodeMatchesTheLoops() {
        float[][] x = sequence(new Random(7), 5);
        long[] mask = {1, 1, 1, 1, 1};
        Step prefill;
        try (TorchScope scope = ops.openScope()) {
            prefill = block(ops, rows(x, 0, 3), emptyPast(), emptyPast(), ops.input(HostTensor.ofLongs(new long[] {1, 1, 1}, 1, 3)));
            scope.keep(prefill.out(), prefill.key(), prefill.value());
        }
        assertShape(shape(1, HEADS, 3, HEAD_DIM), prefill.key());
        assertFloats(ops, shape(1, 3, HIDDEN), flatten(reference(x, mask, 3, 0, 3)), prefill.out(), TOLERANCE);

        Tensor key = prefill.key();
        Tensor value = prefill.value();
        for (int t = 3; t < 5; t++) {
            Step step;
            try (TorchScope scope = ops.openScope()) {
                Tensor m = ops.input(HostTensor.ofLongs(java.util.Arrays.copyOf(mask, t + 1), 1, t + 1));
                step = block(ops, rows(x, t, t + 1), key, value, m);
                scope.keep(step.out(), step.key(), step.value());
            }
            ops.release(key, value);
            key = step.key();
            value = step.value();
            assertShape(shape(1, HEADS, t + 1, HEAD_DIM), key);
            assertFloats(ops, shape(1, 1, HIDDEN), flatten(reference(x, mask, t + 1, t, t + 1)), step.out(), TOLERANCE);
        }
    }

    @Test
    void presentKeysAreTheProjectedKeysPerHead() {
        float[][] x = sequence(new Random(11), 2);
        Step s = block(ops, rows(x, 0, 2), emptyPast(), emptyPast(), ops.input(HostTensor.ofLongs(new long[] {1, 1}, 1, 2)));
        float[] expected = new float[HEADS * 2 * HEAD_DIM];
        for (int t = 0; t < 2; t++) {
            double[] k = linear(layerNorm(x[t]), "k");
            for (int head = 0; head < HEADS; head++) {
                for (int d = 0; d < HEAD_DIM; d++) {
                    expected[(head * 2 + t) * HEAD_DIM + d] = (float) k[head * HEAD_DIM + d];
                }
            }
        }
        assertFloats(ops, shape(1, HEADS, 2, HEAD_DIM), expected, s.key(), TOLERANCE);
    }

    @Test
    void leftPaddingIsMaskedOut() {
        float[][] x = sequence(new Random(3), 3);
        long[] mask = {0, 1, 1};
        Step s = block(ops, rows(x, 0, 3), emptyPast(), emptyPast(), ops.input(HostTensor.ofLongs(mask, 1, 3)));
        assertFloats(ops, shape(1, 3, HIDDEN), flatten(reference(x, mask, 3, 0, 3)), s.out(), TOLERANCE);
        // the padded position's own key must not matter to the others
        float[][] changed = {sequence(new Random(99), 1)[0], x[1], x[2]};
        Step t = block(ops, rows(changed, 0, 3), emptyPast(), emptyPast(), ops.input(HostTensor.ofLongs(mask, 1, 3)));
        float[] a = ops.toHost(ops.slice(s.out(), 1, Dim.of(1), Dim.of(3))).floats();
        float[] b = ops.toHost(ops.slice(t.out(), 1, Dim.of(1), Dim.of(3))).floats();
        TorchAsserts.assertClose(a, b, 1e-6);
        assertShape(shape(1, 2, HIDDEN), ops.reshape(ops.slice(t.out(), 1, Dim.of(1), Dim.of(3)), dims(1, -1, HIDDEN)));
    }
}
