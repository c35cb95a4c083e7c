package dev.stepwise.runtime.onnx;

import static dev.stepwise.runtime.onnx.OpHarness.assertBools;
import static dev.stepwise.runtime.onnx.OpHarness.assertFloats;
import static dev.stepwise.runtime.onnx.OpHarness.assertLongs;
import static dev.stepwise.runtime.onnx.OpHarness.both;
import static dev.stepwise.runtime.onnx.OpHarness.floats;
import static dev.stepwise.runtime.onnx.OpHarness.longs;
import static dev.stepwise.runtime.onnx.OpHarness.shape;
import static dev.stepwise.runtime.onnx.OpHarness.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.onnx.OpHarness.Feed;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each {@code Ops} method traced into a tiny graph, run in ONNX Runtime with symbolic and with fixed input dims, and
 * compared with values computed here by hand.
 */
class TracingOpsTest {
    private static final float TOL = 1e-5f;

    @TempDir
    Path dir;

    @Test
    void arithmeticBroadcastsAgainstWeightsAndScalars() {
        float[] x = values(24, 2f, 0.1f);
        float[] bias = {1f, 2f, -3f, 4f};
        MapWeightSource w = new MapWeightSource().put("bias", bias, 4);
        both(dir, 13, w, List.of(Feed.of("x", floats(x, 2, 3, 4), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {
                    ops.add(in[0], ops.weight("bias")),
                    ops.sub(in[0], ops.weight("bias")),
                    ops.mul(in[0], ops.scalar(2f)),
                    ops.div(in[0], ops.weight("bias"))},
                run -> {
                    float[] add = new float[24];
                    float[] sub = new float[24];
                    float[] mul = new float[24];
                    float[] div = new float[24];
                    for (int i = 0; i < 24; i++) {
                        add[i] = x[i] + bias[i % 4];
                        sub[i] = x[i] - bias[i % 4];
                        mul[i] = x[i] * 2f;
                        div[i] = x[i] / bias[i % 4];
                    }
                    assertFloats(run.y(0), shape(2, 3, 4), add, TOL);
                    assertFloats(run.y(1), shape(2, 3, 4), sub, TOL);
                    assertFloats(run.y(2), shape(2, 3, 4), mul, TOL);
                    assertFloats(run.y(3), shape(2, 3, 4), div, TOL);
                    assertEquals(1, run.fixture().graph.buildGraph(false).getInitializerList().stream()
                            .filter(t -> t.getName().equals("bias")).count(), "bias stored once");
                });
    }

    @Test
    void unaryOpsAndGelu() {
        float[] x = {0.1f, 0.5f, 1f, 1.5f, 2f, 0.3f};
        both(dir, 13, List.of(Feed.of("x", floats(x, 2, 3), "batch_size", null)),
                (ops, in) -> {
                    Tensor centered = ops.sub(in[0], ops.scalar(1f));
                    return new Tensor[] {ops.pow(in[0], 2f), ops.sqrt(in[0]), ops.tanh(centered), ops.exp(in[0]),
                        ops.neg(in[0]), ops.relu(centered), ops.sigmoid(centered), ops.sin(in[0]), ops.cos(in[0]),
                        ops.gelu(centered)};
                },
                run -> {
                    String[] names = {"pow", "sqrt", "tanh", "exp", "neg", "relu", "sigmoid", "sin", "cos", "gelu"};
                    for (int k = 0; k < names.length; k++) {
                        float[] expected = new float[x.length];
                        for (int i = 0; i < x.length; i++) {
                            double v = x[i];
                            double c = v - 1;
                            expected[i] = (float) switch (k) {
                                case 0 -> v * v;
                                case 1 -> Math.sqrt(v);
                                case 2 -> Math.tanh(c);
                                case 3 -> Math.exp(v);
                                case 4 -> -v;
                                case 5 -> Math.max(0, c);
                                case 6 -> 1 / (1 + Math.exp(-c));
                                case 7 -> Math.sin(v);
                                case 8 -> Math.cos(v);
                                default -> c * 0.5 * (1 + erf(c / Math.sqrt(2)));
                            };
                        }
                        assertFloats(run.y(k), shape(2, 3), expected, TOL);
                    }
                    assertTrue(run.fixture().count("Erf") == 1, "gelu is written with Erf");
                    assertEquals(0, run.fixture().count("Gelu"));
                });
    }

    @Test
    void matmulWithWeightAndBatchedMatmul() {
        float[] x = values(2 * 3 * 3, 1f, 0.2f);
        float[] wt = values(3 * 2, 1f, 1.3f);
        float[] q = values(2 * 2 * 3 * 4, 1f, 0.7f);
        float[] k = values(2 * 2 * 3 * 4, 1f, 2.1f);
        MapWeightSource w = new MapWeightSource().put("w", wt, 3, 2);
        both(dir, 14, w, List.of(
                        Feed.of("x", floats(x, 2, 3, 3), "batch_size", "sequence_length"),
                        Feed.of("q", floats(q, 2, 2, 3, 4), "batch_size", null, "sequence_length"),
                        Feed.of("k", floats(k, 2, 2, 3, 4), "batch_size", null, "sequence_length")),
                (ops, in) -> new Tensor[] {
                    ops.matmul(in[0], ops.weight("w")),
                    ops.matmul(in[1], ops.transpose(in[2], 0, 1, 3, 2))},
                run -> {
                    float[] xw = new float[2 * 3 * 2];
                    for (int r = 0; r < 6; r++) {
                        for (int c = 0; c < 2; c++) {
                            float s = 0;
                            for (int i = 0; i < 3; i++) {
                                s += x[r * 3 + i] * wt[i * 2 + c];
                            }
                            xw[r * 2 + c] = s;
                        }
                    }
                    assertFloats(run.y(0), shape(2, 3, 2), xw, TOL);
                    float[] qk = new float[2 * 2 * 3 * 3];
                    for (int bh = 0; bh < 4; bh++) {
                        for (int i = 0; i < 3; i++) {
                            for (int j = 0; j < 3; j++) {
                                float s = 0;
                                for (int d = 0; d < 4; d++) {
                                    s += q[(bh * 3 + i) * 4 + d] * k[(bh * 3 + j) * 4 + d];
                                }
                                qk[(bh * 3 + i) * 3 + j] = s;
                            }
                        }
                    }
                    assertFloats(run.y(1), shape(2, 2, 3, 3), qk, TOL);
                });
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 15})
    void matmulTransposedBUsesGemmOnTheWeightInPlace(int opset) {
        float[] x = values(2 * 3 * 3, 1f, 0.4f);
        float[] x2 = values(4 * 3, 1f, 0.9f);
        float[] wte = values(5 * 3, 1f, 1.7f);
        MapWeightSource w = new MapWeightSource().put("wte", wte, 5, 3);
        both(dir, opset, w, List.of(
                        Feed.of("x", floats(x, 2, 3, 3), "batch_size", "sequence_length"),
                        Feed.of("rows", floats(x2, 4, 3), "n")),
                (ops, in) -> new Tensor[] {
                    ops.matmulTransposedB(in[0], ops.weight("wte")),
                    ops.matmulTransposedB(in[1], ops.weight("wte"))},
                run -> {
                    assertFloats(run.y(0), shape(2, 3, 5), timesTransposed(x, 6, wte, 5, 3), TOL);
                    assertFloats(run.y(1), shape(4, 5), timesTransposed(x2, 4, wte, 5, 3), TOL);
                    assertEquals(2, run.fixture().count("Gemm"));
                    assertEquals(0, run.fixture().count("Transpose"), "no transposed copy of the weight");
                    assertEquals(0, run.fixture().count("MatMul"));
                });
    }

    @Test
    void weightTransposedIsStoredAsInOut() {
        float[] x = values(2 * 3, 1f, 0.3f);
        float[] lin = values(5 * 3, 1f, 2.5f); // nn.Linear layout [out=5, in=3]
        MapWeightSource w = new MapWeightSource().put("fc.weight", lin, 5, 3);
        both(dir, 13, w, List.of(Feed.of("x", floats(x, 2, 3), "batch_size")),
                (ops, in) -> new Tensor[] {ops.matmul(in[0], ops.weightTransposed("fc.weight"))},
                run -> {
                    assertFloats(run.y(0), shape(2, 5), timesTransposed(x, 2, lin, 5, 3), TOL);
                    var init = run.fixture().model.getGraph().getInitializerList().stream()
                            .filter(t -> t.getName().startsWith("fc.weight")).toList();
                    assertEquals(1, init.size());
                    assertEquals(List.of(3L, 5L), init.get(0).getDimsList());
                });
    }

    @Test
    void softmaxOnAnyAxis() {
        float[] x = values(2 * 3 * 4, 2f, 0.5f);
        both(dir, 13, List.of(Feed.of("x", floats(x, 2, 3, 4), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {ops.softmax(in[0], -1), ops.softmax(in[0], 1)},
                run -> {
                    float[] last = new float[24];
                    float[] mid = new float[24];
                    for (int b = 0; b < 2; b++) {
                        for (int s = 0; s < 3; s++) {
                            double sum = 0;
                            for (int i = 0; i < 4; i++) {
                                sum += Math.exp(x[(b * 3 + s) * 4 + i]);
                            }
                            for (int i = 0; i < 4; i++) {
                                last[(b * 3 + s) * 4 + i] = (float) (Math.exp(x[(b * 3 + s) * 4 + i]) / sum);
                            }
                        }
                        for (int i = 0; i < 4; i++) {
                            double sum = 0;
                            for (int s = 0; s < 3; s++) {
                                sum += Math.exp(x[(b * 3 + s) * 4 + i]);
                            }
                            for (int s = 0; s < 3; s++) {
                                mid[(b * 3 + s) * 4 + i] = (float) (Math.exp(x[(b * 3 + s) * 4 + i]) / sum);
                            }
                        }
                    }
                    assertFloats(run.y(0), shape(2, 3, 4), last, TOL);
                    assertFloats(run.y(1), shape(2, 3, 4), mid, TOL);
                });
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 17})
    void layerNormDecomposedBelow17AndFusedFrom17(int opset) {
        float[] x = values(2 * 3 * 4, 3f, 0.8f);
        float[] gamma = {1f, 0.5f, 2f, -1f};
        float[] beta = {0.1f, 0.2f, 0.3f, 0.4f};
        MapWeightSource w = new MapWeightSource().put("ln.weight", gamma, 4).put("ln.bias", beta, 4);
        both(dir, opset, w, List.of(Feed.of("x", floats(x, 2, 3, 4), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {
                    ops.layerNorm(in[0], ops.weight("ln.weight"), ops.weight("ln.bias"), 1e-5f),
                    ops.layerNorm(in[0], ops.weight("ln.weight"), null, 1e-5f)},
                run -> {
                    float[] withBeta = new float[24];
                    float[] noBeta = new float[24];
                    for (int r = 0; r < 6; r++) {
                        double mean = 0;
                        for (int i = 0; i < 4; i++) {
                            mean += x[r * 4 + i] / 4.0;
                        }
                        double var = 0;
                        for (int i = 0; i < 4; i++) {
                            var += (x[r * 4 + i] - mean) * (x[r * 4 + i] - mean) / 4.0;
                        }
                        for (int i = 0; i < 4; i++) {
                            double n = (x[r * 4 + i] - mean) / Math.sqrt(var + 1e-5);
                            noBeta[r * 4 + i] = (float) (n * gamma[i]);
                            withBeta[r * 4 + i] = (float) (n * gamma[i] + beta[i]);
                        }
                    }
                    assertFloats(run.y(0), shape(2, 3, 4), withBeta, 1e-4f);
                    assertFloats(run.y(1), shape(2, 3, 4), noBeta, 1e-4f);
                    assertEquals(opset >= 17 ? 2 : 0, run.fixture().count("LayerNormalization"));
                    assertEquals(opset >= 17 ? 0 : 4, run.fixture().count("ReduceMean"));
                });
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 18})
    void reduceMeanTakesAxesAsAttributeThenInput(int opset) {
        float[] x = values(2 * 3 * 4, 1f, 0.6f);
        both(dir, opset, List.of(Feed.of("x", floats(x, 2, 3, 4), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {ops.reduceMean(in[0], -1, true), ops.reduceMean(in[0], 1, false)},
                run -> {
                    float[] last = new float[6];
                    float[] mid = new float[8];
                    for (int b = 0; b < 2; b++) {
                        for (int s = 0; s < 3; s++) {
                            for (int i = 0; i < 4; i++) {
                                last[b * 3 + s] += x[(b * 3 + s) * 4 + i] / 4f;
                                mid[b * 4 + i] += x[(b * 3 + s) * 4 + i] / 3f;
                            }
                        }
                    }
                    assertFloats(run.y(0), shape(2, 3, 1), last, TOL);
                    assertFloats(run.y(1), shape(2, 4), mid, TOL);
                    run.fixture().graph.nodes().stream().filter(n -> n.getOpType().equals("ReduceMean")).forEach(n -> {
                        assertEquals(opset >= 18 ? 2 : 1, n.getInputCount());
                        assertEquals(opset < 18, n.getAttributeList().stream().anyMatch(a -> a.getName().equals("axes")));
                    });
                });
    }

    @Test
    void reshapeCopiesOrInfersSymbolicAxesWithoutShapeArithmetic() {
        float[] x = values(2 * 3 * 8, 1f, 0.1f);
        both(dir, 13, List.of(Feed.of("x", floats(x, 2, 3, 8), "batch_size", "sequence_length")),
                (ops, in) -> {
                    Dim b = ops.dim(in[0], 0);
                    Dim s = ops.dim(in[0], 1);
                    Tensor heads = ops.reshape(in[0], b, s, Dim.of(2), Dim.of(4));
                    Tensor back = ops.reshape(heads, b, s, Dim.of(8));
                    Tensor flat = ops.reshape(in[0], Dim.of(-1), Dim.of(8));
                    Tensor merged = ops.reshape(in[0], b, ops.mul(s, Dim.of(8)));
                    return new Tensor[] {heads, back, flat, merged};
                },
                run -> {
                    assertFloats(run.y(0), shape(2, 3, 2, 4), x, 0);
                    assertFloats(run.y(1), shape(2, 3, 8), x, 0);
                    assertFloats(run.y(2), shape(6, 8), x, 0);
                    assertFloats(run.y(3), shape(2, 24), x, 0);
                    // copies (0) and one inferred axis (-1) need no Shape even when the dims are symbolic
                    assertEquals(0, run.fixture().count("Shape"));
                    assertEquals(0, run.fixture().count("Concat"));
                });
    }

    @Test
    void reshapeWithTwoComputedAxesConcatsTheirDims() {
        float[] x = values(2 * 3 * 4, 1f, 0.1f);
        float[] y = values(3 * 2, 1f, 0.2f);
        both(dir, 15, List.of(
                        Feed.of("x", floats(x, 2, 3, 4), "a", "b"),
                        Feed.of("y", floats(y, 3, 2), "b", "a")),
                (ops, in) -> {
                    // [a, b, 4] -> [b, a, 4]: neither axis can be copied; one is inferred, one read off the input
                    Tensor t = ops.reshape(in[0], ops.dim(in[1], 0), ops.dim(in[1], 1), Dim.of(4));
                    return new Tensor[] {t};
                },
                run -> {
                    assertFloats(run.y(0), shape(3, 2, 4), x, 0);
                    if (!run.fixed()) {
                        assertEquals(1, run.fixture().count("Shape"));
                        assertEquals(1, run.fixture().count("Concat"));
                    }
                });
    }

    @Test
    void transposeAndUnsqueeze() {
        float[] x = values(2 * 3 * 4, 1f, 0.3f);
        both(dir, 13, List.of(Feed.of("x", floats(x, 2, 3, 4), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {ops.transpose(in[0], 0, 2, 1), ops.unsqueeze(in[0], 1, -1)},
                run -> {
                    float[] t = new float[24];
                    for (int b = 0; b < 2; b++) {
                        for (int s = 0; s < 3; s++) {
                            for (int i = 0; i < 4; i++) {
                                t[(b * 4 + i) * 3 + s] = x[(b * 3 + s) * 4 + i];
                            }
                        }
                    }
                    assertFloats(run.y(0), shape(2, 4, 3), t, 0);
                    assertFloats(run.y(1), shape(2, 1, 3, 4, 1), x, 0);
                });
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2})
    void concatAppendsToAPastThatMayBeEmpty(int past) {
        float[] p = values(2 * 4 * past * 8, 1f, 0.5f);
        float[] n = values(2 * 4 * 3 * 8, 1f, 1.5f);
        both(dir, 13, List.of(
                        Feed.of("past", floats(p, 2, 4, past, 8), "batch_size", null, "past_sequence_length"),
                        Feed.of("new", floats(n, 2, 4, 3, 8), "batch_size", null, "sequence_length")),
                (ops, in) -> new Tensor[] {ops.concat(2, in[0], in[1])},
                run -> {
                    float[] expected = new float[2 * 4 * (past + 3) * 8];
                    for (int bh = 0; bh < 8; bh++) {
                        for (int t = 0; t < past + 3; t++) {
                            for (int d = 0; d < 8; d++) {
                                expected[(bh * (past + 3) + t) * 8 + d] = t < past
                                        ? p[(bh * past + t) * 8 + d] : n[(bh * 3 + t - past) * 8 + d];
                            }
                        }
                    }
                    assertFloats(run.y(0), shape(2, 4, past + 3, 8), expected, 0);
                });
    }

    @Test
    void reshapeKeepsAZeroLengthAxis() {
        both(dir, 14, List.of(Feed.of("past", floats(new float[0], 2, 4, 0, 8), "batch_size", null, "past")),
                (ops, in) -> new Tensor[] {
                    ops.reshape(in[0], ops.dim(in[0], 0), Dim.of(4), ops.dim(in[0], 2), Dim.of(2), Dim.of(4))},
                run -> {
                    assertFloats(run.y(0), shape(2, 4, 0, 2, 4), new float[0], 0);
                    boolean allowZero = run.fixture().graph.nodes().stream()
                            .filter(n -> n.getOpType().equals("Reshape"))
                            .anyMatch(n -> n.getAttributeList().stream().anyMatch(a -> a.getName().equals("allowzero")));
                    assertEquals(run.fixed(), allowZero, "a literal 0 needs allowzero; a copied axis does not");
                });
    }

    @Test
    void sliceWithKnownAndSymbolicBounds() {
        float[] x = values(2 * 5, 1f, 0.1f);
        both(dir, 13, List.of(Feed.of("x", floats(x, 2, 5), "batch_size", "total")),
                (ops, in) -> {
                    Dim total = ops.dim(in[0], 1);
                    return new Tensor[] {
                        ops.slice(in[0], 1, Dim.of(1), Dim.of(4)),
                        ops.slice(in[0], -1, ops.sub(total, Dim.of(2)), total),
                        ops.slice(in[0], 1, Dim.of(0), total)};
                },
                run -> {
                    assertFloats(run.y(0), shape(2, 3), new float[] {x[1], x[2], x[3], x[6], x[7], x[8]}, 0);
                    assertFloats(run.y(1), shape(2, 2), new float[] {x[3], x[4], x[8], x[9]}, 0);
                    assertFloats(run.y(2), shape(2, 5), x, 0);
                    assertEquals(2, run.fixture().count("Slice"), "the whole-axis slice is no node");
                });
    }

    @Test
    void gatherEmbeddingAndCast() {
        float[] table = values(6 * 3, 1f, 0.2f);
        long[] ids = {5, 0, 2, 1, 1, 4};
        MapWeightSource w = new MapWeightSource().put("wte", table, 6, 3);
        both(dir, 13, w, List.of(Feed.of("input_ids", longs(ids, 2, 3), "batch_size", "sequence_length")),
                (ops, in) -> new Tensor[] {
                    ops.gather(ops.weight("wte"), in[0]),
                    ops.cast(in[0], DType.FLOAT),
                    ops.cast(in[0], DType.INT64)},
                run -> {
                    float[] emb = new float[18];
                    float[] cast = new float[6];
                    for (int i = 0; i < 6; i++) {
                        System.arraycopy(table, (int) ids[i] * 3, emb, i * 3, 3);
                        cast[i] = ids[i];
                    }
                    assertFloats(run.y(0), shape(2, 3, 3), emb, 0);
                    assertFloats(run.y(1), shape(2, 3), cast, 0);
                    assertLongs(run.y(2), shape(2, 3), ids);
                    assertEquals(1, run.fixture().count("Cast"), "a cast to the same type is no node");
                });
    }

    @Test
    void rangeIsAConstantWhenItsBoundsAreKnown() {
        long[] ids = {1, 2, 3, 4, 5, 6};
        both(dir, 13, List.of(Feed.of("input_ids", longs(ids, 2, 3), "batch_size", "sequence_length")),
                (ops, in) -> {
                    Dim s = ops.dim(in[0], 1);
                    return new Tensor[] {ops.range(Dim.of(0), s), ops.range(s, ops.add(s, Dim.of(2))),
                        ops.range(Dim.of(2), Dim.of(5))};
                },
                run -> {
                    assertLongs(run.y(0), shape(3), new long[] {0, 1, 2});
                    assertLongs(run.y(1), shape(2), new long[] {3, 4});
                    assertLongs(run.y(2), shape(3), new long[] {2, 3, 4});
                    assertEquals(run.fixed() ? 0 : 2, run.fixture().count("Range"));
                });
    }

    @Test
    void positionIdsFromAMaskWithCumSum() {
        long[] mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
        float[] f = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        both(dir, 13, List.of(
                        Feed.of("attention_mask", longs(mask, 2, 5), "batch_size", "total"),
                        Feed.of("f", floats(f, 2, 5), "batch_size", "total")),
                (ops, in) -> {
                    Tensor positions = ops.sub(ops.cumsum(in[0], 1), ops.longs(1));
                    Tensor masked = ops.where(ops.greater(in[0], ops.longs(0)), positions, ops.longs(1));
                    return new Tensor[] {masked, ops.cumsum(in[1], -1)};
                },
                run -> {
                    assertLongs(run.y(0), shape(2, 5), new long[] {1, 1, 0, 1, 2, 0, 1, 2, 3, 4});
                    assertFloats(run.y(1), shape(2, 5), new float[] {1, 3, 6, 10, 15, 6, 13, 21, 30, 40}, 0);
                });
    }

    @Test
    void causalAndPaddingMasks() {
        long[] mask = {0, 1, 1, 1, 1, 1};
        float[] scores = values(2 * 3 * 3, 1f, 0.4f);
        both(dir, 13, List.of(
                        Feed.of("attention_mask", longs(mask, 2, 3), "batch_size", "total"),
                        Feed.of("scores", floats(scores, 2, 3, 3), "batch_size", "sequence_length", "total")),
                (ops, in) -> {
                    Dim t = ops.dim(in[0], 1);
                    Tensor q = ops.unsqueeze(ops.range(Dim.of(0), t), 1);
                    Tensor k = ops.unsqueeze(ops.range(Dim.of(0), t), 0);
                    Tensor causal = ops.lessOrEqual(k, q);
                    Tensor pad = ops.greater(ops.unsqueeze(in[0], 1), ops.longs(0));
                    Tensor allowed = ops.and(causal, pad);
                    return new Tensor[] {causal, allowed, ops.where(allowed, in[1], ops.scalar(-1e9f))};
                },
                run -> {
                    boolean[] causal = new boolean[9];
                    boolean[] allowed = new boolean[18];
                    float[] masked = new float[18];
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 3; j++) {
                            causal[i * 3 + j] = j <= i;
                            for (int b = 0; b < 2; b++) {
                                int at = (b * 3 + i) * 3 + j;
                                allowed[at] = j <= i && mask[b * 3 + j] > 0;
                                masked[at] = allowed[at] ? scores[at] : -1e9f;
                            }
                        }
                    }
                    assertBools(run.y(0), shape(3, 3), causal);
                    assertBools(run.y(1), shape(2, 3, 3), allowed);
                    assertFloats(run.y(2), shape(2, 3, 3), masked, 0);
                });
    }

    @Test
    void dimArithmeticAndDimTensors() {
        both(dir, 13, List.of(
                        Feed.of("x", floats(new float[6], 2, 3), "batch_size", "sequence_length"),
                        Feed.of("past", floats(new float[8], 2, 4), "batch_size", "past_sequence_length")),
                (ops, in) -> {
                    Dim s = ops.dim(in[0], 1);
                    Dim p = ops.dim(in[1], 1);
                    return new Tensor[] {
                        ops.dimTensor(ops.add(p, s)), ops.dimTensor(ops.sub(p, s)), ops.dimTensor(ops.mul(p, s)),
                        ops.add(ops.dimTensor(s), ops.longs(10))};
                },
                run -> {
                    assertLongs(run.y(0), shape(1), new long[] {7});
                    assertLongs(run.y(1), shape(1), new long[] {1});
                    assertLongs(run.y(2), shape(1), new long[] {12});
                    assertLongs(run.y(3), shape(1), new long[] {13});
                });
    }

    @Test
    void fixedDimsFoldDimArithmeticToNumbers(@TempDir Path d) {
        TraceFixture f = new TraceFixture(d, 13);
        Tensor x = f.ops.input("x", DType.FLOAT, List.of(2, 3L));
        Dim s = f.ops.dim(x, 1);
        assertTrue(s.isKnown());
        assertEquals(Dim.of(3), s);
        assertEquals(Dim.of(5), f.ops.add(s, Dim.of(2)));
        assertEquals(Dim.of(6), f.ops.mul(s, f.ops.dim(x, 0)));
        assertEquals(0, f.graph.nodeCount());
    }

    @Test
    void symbolicDimsAreReadOnceAndSharedByName(@TempDir Path d) {
        TraceFixture f = new TraceFixture(d, 15);
        TracingOps ops = f.ops;
        Tensor x = ops.input("x", DType.FLOAT, List.of("batch_size", "sequence_length", 4));
        Tensor mask = ops.input("attention_mask", DType.INT64,
                List.of("batch_size", "past_sequence_length + sequence_length"));
        Tensor past = ops.input("past", DType.FLOAT, List.of("batch_size", 2, "past_sequence_length", 4));
        Dim s = ops.dim(x, 1);
        assertSame(s, ops.dim(x, 1));
        assertSame(ops.dim(x, 0), ops.dim(mask, 0), "one dim per dim_param");
        Dim total = ops.add(ops.dim(past, 2), s);
        assertEquals(ops.dim(mask, 1), total, "computed total length equals the declared mask axis");
        assertFalse(((SymbolicDim) s).isMaterialized());
        assertEquals(0, f.graph.nodeCount(), "asking for dims emits nothing");

        ops.range(Dim.of(0), s);
        ops.slice(x, 1, Dim.of(0), ops.sub(s, Dim.of(1)));
        ops.dimTensor(s);
        assertEquals(1, f.count("Shape"), "one Shape for three uses of the same dim");

        Tensor merged = ops.concat(2, past, ops.unsqueeze(ops.reshape(x, ops.dim(x, 0), s, Dim.of(4)), 1));
        assertEquals(total, ops.dim(merged, 2));
    }

    @Test
    void shapeBelowOpset15IsGatheredFromOneShapeNode(@TempDir Path d) {
        TraceFixture f = new TraceFixture(d, 13);
        Tensor x = f.ops.input("x", DType.FLOAT, List.of("batch_size", "sequence_length", 4));
        f.ops.dimTensor(f.ops.dim(x, 0));
        f.ops.dimTensor(f.ops.dim(x, 1));
        assertEquals(1, f.count("Shape"));
        assertEquals(2, f.count("Gather"));
    }

    @Test
    void smallConstantsAreStoredOnce(@TempDir Path d) {
        TraceFixture f = new TraceFixture(d, 13);
        Tensor a = f.ops.scalar(0.5f);
        assertSame(a, f.ops.scalar(0.5f));
        assertSame(f.ops.longs(0, -1, 4), f.ops.longs(0, -1, 4));
        f.ops.longs(0, -1);
        assertEquals(3, f.graph.buildGraph(false).getInitializerCount());
    }

    @Test
    void graphOutputsRenameTheProducerOrCopyWhenTheyMust(@TempDir Path d) {
        TraceFixture f = new TraceFixture(d, 13);
        TracingOps ops = f.ops;
        Tensor x = ops.input("x", DType.FLOAT, List.of("batch_size", 3));
        Tensor y = ops.relu(x);
        Tensor z = ops.neg(y);
        ops.output("z", z);           // only output: the Neg node's output is renamed
        ops.output("relu", y);        // also read by Neg: renamed, and Neg reads "relu"
        ops.output("x_copy", x);      // a graph input: Identity
        ops.output("z_again", z);     // already an output: Identity
        assertEquals("z", ((TracedTensor) z).name());
        assertEquals("relu", ((TracedTensor) y).name());
        assertEquals(2, f.count("Identity"));
        var g = f.graph.buildGraph(false);
        assertEquals(List.of("z", "relu", "x_copy", "z_again"),
                g.getOutputList().stream().map(o -> o.getName()).toList());
        assertEquals("batch_size", g.getOutput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
        assertThrows(StepwiseException.class, () -> ops.output("z", ops.exp(x)), "a used name");
        assertThrows(StepwiseException.class, () -> ops.output("w", y, DType.INT64, null), "a wrong type");
        Path model = f.save(false);
        var out = Ort.run(model, java.util.Map.of("x", floats(new float[] {-1, 2, -3}, 1, 3)));
        assertFloats(out.get("z"), shape(1, 3), new float[] {0, -2, 0}, 0);
        assertFloats(out.get("x_copy"), shape(1, 3), new float[] {-1, 2, -3}, 0);
        assertFloats(out.get("relu"), shape(1, 3), new float[] {0, 2, 0}, 0);
    }

    @Test
    void typeMismatchAndLowOpsetAreClearErrors(@TempDir Path d) {
        assertThrows(StepwiseException.class, () -> new TraceFixture(d.resolve("a"), 12));
        TraceFixture f = new TraceFixture(d, 13);
        Tensor ids = f.ops.input("input_ids", DType.INT64, List.of("batch_size", "sequence_length"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> f.ops.add(ids, f.ops.scalar(1f)));
        assertTrue(e.getMessage().contains("element types"), e.getMessage());
    }

    // ---- reference helpers ----

    /** {@code x [rows, k] @ w^T} for {@code w [n, k]}. */
    static float[] timesTransposed(float[] x, int rows, float[] w, int n, int k) {
        float[] out = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                float s = 0;
                for (int i = 0; i < k; i++) {
                    s += x[r * k + i] * w[j * k + i];
                }
                out[r * n + j] = s;
            }
        }
        return out;
    }

    /** erf by its Maclaurin series, ample for |x| < 3. */
    static double erf(double x) {
        double sum = 0;
        double term = x;
        for (int n = 0; n < 60; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }
}
