package dev.stepwise.runtime.onnx;

import static dev.stepwise.runtime.onnx.OpHarness.assertFloats;
import static dev.stepwise.runtime.onnx.OpHarness.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small causal self-attention block with a KV cache, written once against {@link Ops}, traced with symbolic
 * batch/sequence/past dims (one graph for prefill and decode) and with fixed dims, and checked against plain Java
 * loops.
 */
class AttentionBlockTest {
    private static final int E = 8;
    private static final int H = 2;
    private static final int D = 4;

    private final float[] wq = values(E * E, 0.5f, 0.1f);
    private final float[] wk = values(E * E, 0.5f, 0.2f);
    private final float[] wv = values(E * E, 0.5f, 0.3f);
    private final float[] wo = values(E * E, 0.5f, 0.4f);
    private final float[] bq = values(E, 0.1f, 0.5f);
    private final float[] bk = values(E, 0.1f, 0.6f);
    private final float[] bv = values(E, 0.1f, 0.7f);

    @TempDir
    Path dir;

    private MapWeightSource weights() {
        return new MapWeightSource()
                .put("q.weight", wq, E, E).put("k.weight", wk, E, E).put("v.weight", wv, E, E)
                .put("o.weight", wo, E, E)
                .put("q.bias", bq, E).put("k.bias", bk, E).put("v.bias", bv, E);
    }

    /** The block as an architecture would write it. Returns {output, present key, present value}. */
    static Tensor[] attention(Ops ops, Tensor x, Tensor pastKey, Tensor pastValue, Tensor mask) {
        Dim b = ops.dim(x, 0);
        Dim s = ops.dim(x, 1);
        Dim p = ops.dim(pastKey, 2);
        Tensor q = heads(ops, ops.add(ops.matmul(x, ops.weightTransposed("q.weight")), ops.weight("q.bias")), b, s);
        Tensor k = heads(ops, ops.add(ops.matmul(x, ops.weightTransposed("k.weight")), ops.weight("k.bias")), b, s);
        Tensor v = heads(ops, ops.add(ops.matmul(x, ops.weightTransposed("v.weight")), ops.weight("v.bias")), b, s);
        Tensor presentKey = ops.concat(2, pastKey, k);
        Tensor presentValue = ops.concat(2, pastValue, v);

        Tensor scores = ops.mul(ops.matmul(q, ops.transpose(presentKey, 0, 1, 3, 2)),
                ops.scalar((float) (1 / Math.sqrt(D))));
        Dim total = ops.add(p, s);
        Tensor queryPos = ops.unsqueeze(ops.range(p, total), 1);
        Tensor keyPos = ops.unsqueeze(ops.range(Dim.of(0), total), 0);
        Tensor causal = ops.lessOrEqual(keyPos, queryPos);
        Tensor notPadding = ops.greater(ops.unsqueeze(mask, 1, 2), ops.longs(0));
        Tensor allowed = ops.and(causal, notPadding);
        Tensor probs = ops.softmax(ops.where(allowed, scores, ops.scalar(-1e9f)), -1);

        Tensor context = ops.transpose(ops.matmul(probs, presentValue), 0, 2, 1, 3);
        Tensor merged = ops.reshape(context, b, s, Dim.of(E));
        return new Tensor[] {ops.matmulTransposedB(merged, ops.weight("o.weight")), presentKey, presentValue};
    }

    private static Tensor heads(Ops ops, Tensor t, Dim b, Dim s) {
        return ops.transpose(ops.reshape(t, b, s, Dim.of(H), Dim.of(D)), 0, 2, 1, 3);
    }

    /** Traces the block; dims are dim_params when symbolic, else the sizes of this case. */
    private Path trace(Path to, boolean symbolic, int batch, int past, int seq) {
        java.io.File folder = to.toFile();
        folder.mkdirs();
        TraceFixture f = new TraceFixture(to, 15, weights());
        TracingOps ops = f.ops;
        Object bd = symbolic ? "batch_size" : batch;
        Object pd = symbolic ? "past_sequence_length" : past;
        Object sd = symbolic ? "sequence_length" : seq;
        Object td = symbolic ? "past_sequence_length + sequence_length" : past + seq;
        Tensor x = ops.input("x", DType.FLOAT, List.of(bd, sd, E));
        Tensor pk = ops.input("past_key", DType.FLOAT, List.of(bd, H, pd, D));
        Tensor pv = ops.input("past_value", DType.FLOAT, List.of(bd, H, pd, D));
        Tensor mask = ops.input("attention_mask", DType.INT64, List.of(bd, td));
        Tensor[] out;
        try (var scope = f.graph.scope("h.0")) {
            try (var attn = f.graph.scope("attn")) {
                out = attention(ops, x, pk, pv, mask);
            }
        }
        ops.output("out", out[0]);
        ops.output("present_key", out[1], DType.FLOAT, List.of(bd, H, td, D));
        ops.output("present_value", out[2], DType.FLOAT, List.of(bd, H, td, D));
        Path model = f.save(false);
        if (symbolic) {
            // s read off x, p read off the past; everything else is copied, inferred or derived from those two
            assertEquals(2, f.count("Shape"), "Shape nodes");
            assertEquals(0, f.count("Gather"));
            assertTrue(f.graph.nodes().get(0).getName().startsWith("/h.0/attn/"), f.graph.nodes().get(0).getName());
        } else {
            OpHarness.assertStatic(f.model.getGraph());
        }
        return model;
    }

    @Test
    void oneSymbolicGraphServesPrefillAndDecode() {
        Path model = trace(dir.resolve("dynamic"), true, 0, 0, 0);
        check(model, 2, 0, 3, new long[] {1, 1, 1, 0, 1, 1}); // prefill, second row left-padded
        check(model, 2, 2, 1, new long[] {1, 1, 1, 0, 1, 1}); // one decode step
        check(model, 1, 3, 2, new long[] {1, 1, 1, 1, 1});
    }

    @Test
    void fixedDimsGiveTheSameNumbersWithoutShapeOps() {
        check(trace(dir.resolve("prefill"), false, 2, 0, 3), 2, 0, 3, new long[] {1, 1, 1, 0, 1, 1});
        check(trace(dir.resolve("decode"), false, 2, 2, 1), 2, 2, 1, new long[] {1, 1, 1, 0, 1, 1});
    }

    private void check(Path model, int batch, int past, int seq, long[] mask) {
        int total = past + seq;
        float[] x = values(batch * seq * E, 1f, 0.9f + past);
        float[] pk = values(batch * H * past * D, 1f, 1.1f);
        float[] pv = values(batch * H * past * D, 1f, 1.2f);
        Map<String, Ort.Out> out = Ort.run(model, Map.of(
                "x", HostTensor.ofFloats(x, batch, seq, E),
                "past_key", HostTensor.ofFloats(pk, batch, H, past, D),
                "past_value", HostTensor.ofFloats(pv, batch, H, past, D),
                "attention_mask", HostTensor.ofLongs(mask, batch, total)));

        // reference, straight loops
        float[] q = linear(x, batch * seq, wq, bq);
        float[] k = linear(x, batch * seq, wk, bk);
        float[] v = linear(x, batch * seq, wv, bv);
        float[] keys = new float[batch * H * total * D];
        float[] vals = new float[batch * H * total * D];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < H; h++) {
                for (int t = 0; t < total; t++) {
                    for (int d = 0; d < D; d++) {
                        int at = ((b * H + h) * total + t) * D + d;
                        if (t < past) {
                            keys[at] = pk[((b * H + h) * past + t) * D + d];
                            vals[at] = pv[((b * H + h) * past + t) * D + d];
                        } else {
                            keys[at] = k[(b * seq + t - past) * E + h * D + d];
                            vals[at] = v[(b * seq + t - past) * E + h * D + d];
                        }
                    }
                }
            }
        }
        float[] context = new float[batch * seq * E];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < seq; i++) {
                    double[] score = new double[total];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < total; t++) {
                        boolean allowed = t <= past + i && mask[b * total + t] > 0;
                        double sc = 0;
                        for (int d = 0; d < D; d++) {
                            sc += q[(b * seq + i) * E + h * D + d] * keys[((b * H + h) * total + t) * D + d];
                        }
                        score[t] = allowed ? sc / Math.sqrt(D) : -1e9;
                        max = Math.max(max, score[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < total; t++) {
                        score[t] = Math.exp(score[t] - max);
                        sum += score[t];
                    }
                    for (int d = 0; d < D; d++) {
                        double c = 0;
                        for (int t = 0; t < total; t++) {
                            c += score[t] / sum * vals[((b * H + h) * total + t) * D + d];
                        }
                        context[(b * seq + i) * E + h * D + d] = (float) c;
                    }
                }
            }
        }
        float[] expected = linear(context, batch * seq, wo, new float[E]);

        assertFloats(out.get("out"), new long[] {batch, seq, E}, expected, 1e-4f);
        assertFloats(out.get("present_key"), new long[] {batch, H, total, D}, keys, 1e-5f);
        assertFloats(out.get("present_value"), new long[] {batch, H, total, D}, vals, 1e-5f);
    }

    /** {@code x [rows, E] @ w^T + bias} for an nn.Linear weight {@code w [E, E]}. */
    private static float[] linear(float[] x, int rows, float[] w, float[] bias) {
        float[] out = new float[rows * E];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < E; o++) {
                double s = bias[o];
                for (int i = 0; i < E; i++) {
                    s += x[r * E + i] * w[o * E + i];
                }
                out[r * E + o] = (float) s;
            }
        }
        return out;
    }
}
