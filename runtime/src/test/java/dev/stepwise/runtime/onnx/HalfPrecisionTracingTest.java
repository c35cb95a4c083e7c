package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.RmsNorm;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tracer's float16 compute type: weights narrowed (or copied) into float16 initializers, constants in the right
 * type, and the float32 steps (LayerNorm below opset 17, RMSNorm, masked softmax) surviving values whose squares or
 * fill values do not fit float16.
 */
class HalfPrecisionTracingTest {
    @TempDir
    Path dir;

    private static TracingOps tracer(GraphBuilder graph, MapWeightSource weights, Path data) {
        return new TracingOps(graph, weights, new ExternalDataWriter(data), DType.FLOAT16);
    }

    @Test
    void weightsAreNarrowedAndLinearWeightsTransposedInFloat16() throws Exception {
        float[] w = {0.1f, -2.5f, 1e-5f, 65504f, 3.14159f, -0.333333f};
        MapWeightSource weights = new MapWeightSource().put("w", w, 2, 3);
        GraphBuilder graph = new GraphBuilder("t", 14);
        TracingOps ops = tracer(graph, weights, dir.resolve("w.bin"));
        assertEquals(DType.FLOAT16, ops.floatType());
        assertEquals(DType.FLOAT16, ops.weight("w").type());
        TracedTensor t = (TracedTensor) ops.weightTransposed("w");
        assertEquals(DType.FLOAT16, t.type());
        assertEquals(List.of(3L, 2L), List.of(t.dim(0).value(), t.dim(1).value()));
        List<TensorProto> inits = graph.build(false).getGraph().getInitializerList();
        assertEquals(2, inits.size());
        inits.forEach(init -> assertEquals(TensorProto.DataType.FLOAT16_VALUE, init.getDataType(), init.getName()));
        ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("w.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                short bits = HalfFloats.floatToF16(w[i * 3 + j]);
                assertEquals(bits, file.getShort((i * 3 + j) * 2), "w[" + i + ", " + j + "] rounded to nearest even");
                assertEquals(bits, file.getShort(64 + (j * 2 + i) * 2), "w.T[" + j + ", " + i + "]");
            }
        }
    }

    @Test
    void transposedFloat16StreamsInChunksSmallerThanTheMatrix() throws Exception {
        int rows = 37;
        int cols = 53;
        ByteBuffer src = ByteBuffer.allocateDirect(rows * cols * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            src.putShort(i * 2, HalfFloats.floatToF16(i * 0.25f - 100));
        }
        for (int scratch : new int[] {64, 1000, ExternalDataWriter.DEFAULT_SCRATCH_BYTES}) {
            Path file = dir.resolve("t" + scratch + ".bin");
            TensorProto t;
            try (ExternalDataWriter w = new ExternalDataWriter(file, scratch)) {
                t = w.writeTransposed("m.T", DType.FLOAT16, rows, cols, TensorBytes.of(src));
            }
            assertEquals(TensorProto.DataType.FLOAT16_VALUE, t.getDataType());
            assertEquals(List.of((long) cols, (long) rows), t.getDimsList());
            ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(rows * cols * 2, all.capacity());
            for (int j = 0; j < cols; j++) {
                for (int i = 0; i < rows; i++) {
                    assertEquals(src.getShort((i * cols + j) * 2), all.getShort((j * rows + i) * 2), "scratch " + scratch);
                }
            }
            assertEquals(0, src.position(), "the source buffer is not moved");
        }
    }

    @Test
    void aWeightBeyondFloat16RangeIsAnErrorNamingIt() {
        MapWeightSource weights = new MapWeightSource().put("h.0.mlp.weight", new float[] {1, 70000}, 2);
        TracingOps ops = tracer(new GraphBuilder("t", 14), weights, dir.resolve("x.bin"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> ops.weight("h.0.mlp.weight"));
        assertTrue(e.getMessage().contains("'h.0.mlp.weight'") && e.getMessage().contains("float16"), e.getMessage());
    }

    @Test
    void scalarsTakeTheComputeTypeUnlessTold() {
        GraphBuilder graph = new GraphBuilder("t", 14);
        TracingOps ops = tracer(graph, new MapWeightSource(), dir.resolve("s.bin"));
        assertEquals(DType.FLOAT16, ops.scalar(0.5f).type());
        assertEquals(DType.FLOAT, ops.scalar(0.5f, DType.FLOAT).type());
        assertEquals(DType.FLOAT, ops.floats(1f, 2f).type());
        Tensor x = ops.input("x", DType.FLOAT16, List.of(2L));
        assertSame(x, ops.cast(x, DType.FLOAT16), "a cast to the same type is no node");
    }

    /**
     * x = 300 squares to 90000, beyond float16: LayerNorm below opset 17 and RMSNorm normalize in float32, and the
     * masked softmax fills with float16's lowest value (no -inf, so a fully masked row stays finite).
     */
    @Test
    void float32StepsSurviveValuesFloat16CannotSquare() throws Exception {
        for (int opset : new int[] {14, 17}) {
            GraphBuilder graph = new GraphBuilder("t", opset);
            MapWeightSource weights = new MapWeightSource().put("g", new float[] {1, 2, 0.5f, 1}, 4)
                    .put("b", new float[] {0, 0, 0, 1}, 4);
            Path data = dir.resolve("n" + opset + ".bin");
            ExternalDataWriter sink = new ExternalDataWriter(data);
            TracingOps ops = new TracingOps(graph, weights, sink, DType.FLOAT16);
            Tensor x = ops.input("x", DType.FLOAT16, List.of(1L, 4L));
            ops.output("layer_norm", ops.layerNorm(x, ops.weight("g"), ops.weight("b"), 1e-5f));
            ops.output("rms_norm", RmsNorm.apply(ops, x, ops.weight("g"), 1e-6f));
            Tensor mask = ops.greater(ops.input("keep", DType.INT64, List.of(2L, 4L)), ops.longs(0));
            Tensor masked = AttentionMask.apply(ops, ops.concat(0, x, x), mask);           // [2, 4]
            ops.output("probs", AttentionMask.softmaxInFloat32(ops, masked));
            sink.close();
            Path model = OnnxModelWriter.write(graph.build(true), dir, "m" + opset + ".onnx", data.getFileName().toString(),
                    false);

            float[] in = {300, -300, 100, 0};
            Map<String, HostTensor> out;
            try (OrtSession session = OrtSessions.open(model, 1)) {
                out = OrtRunner.run(session, Map.of("x", HostTensor.ofFloats(in, 1, 4),
                        "keep", HostTensor.ofLongs(new long[] {1, 0, 0, 0, 0, 0, 0, 0}, 2, 4)));
            }
            double mean = 25;
            double var = (275 * 275 + 325 * 325 + 75 * 75 + 25 * 25) / 4.0;
            float[] gamma = {1, 2, 0.5f, 1};
            float[] beta = {0, 0, 0, 1};
            double rms = Math.sqrt((300 * 300 * 2 + 100 * 100) / 4.0);
            for (int i = 0; i < 4; i++) {
                double ln = (in[i] - mean) / Math.sqrt(var + 1e-5) * gamma[i] + beta[i];
                assertEquals(ln, out.get("layer_norm").floats()[i], 4e-3, "opset " + opset + " layer norm " + i);
                assertEquals(in[i] / rms * gamma[i], out.get("rms_norm").floats()[i], 4e-3, "rms norm " + i);
            }
            float[] probs = out.get("probs").floats();
            assertEquals(List.of(1f, 0f, 0f, 0f), List.of(probs[0], probs[1], probs[2], probs[3]), "one key allowed");
            for (int i = 4; i < 8; i++) {
                assertEquals(0.25f, probs[i], 1e-3, "a fully masked row is uniform, not NaN");
            }
        }
    }
}
