package dev.stepwise.runtime.onnx;

import static dev.stepwise.runtime.onnx.OpHarness.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights streamed into one external data file, kept there or inlined at the end. */
class ExternalDataTest {
    private static final int VOCAB = 11;
    private static final int E = 6;

    private final float[] wte = values(VOCAB * E, 1f, 0.3f);
    private final float[] fc = values(E * E, 0.5f, 1.3f);

    @TempDir
    Path dir;

    private MapWeightSource weights() {
        return new MapWeightSource().put("wte", wte, VOCAB, E).put("fc.weight", fc, E, E)
                .put("ln.weight", values(E, 1f, 2f), E).put("ln.bias", values(E, 0.1f, 3f), E);
    }

    /** Embedding, a linear layer, layer norm and a tied LM head: wte is read twice. */
    private TraceFixture traceTinyLm(Path to) throws IOException {
        Files.createDirectories(to);
        TraceFixture f = new TraceFixture(to, 13, weights());
        TracingOps ops = f.ops;
        Tensor ids = ops.input("input_ids", DType.INT64, List.of("batch_size", "sequence_length"));
        Tensor h = ops.gather(ops.weight("wte"), ids);
        h = ops.add(h, ops.matmul(h, ops.weightTransposed("fc.weight")));
        h = ops.layerNorm(h, ops.weight("ln.weight"), ops.weight("ln.bias"), 1e-5f);
        ops.output("logits", ops.matmulTransposedB(h, ops.weight("wte")));
        return f;
    }

    @Test
    void externalDataLoadsInOrtAndMatchesTheInlinedModel() throws IOException {
        TraceFixture external = traceTinyLm(dir.resolve("external"));
        Path externalModel = external.save(true);
        TraceFixture inline = traceTinyLm(dir.resolve("inline"));
        Path inlineModel = inline.save(false);

        Path dataFile = dir.resolve("external").resolve(TraceFixture.DATA);
        assertTrue(Files.exists(dataFile));
        assertFalse(Files.exists(dir.resolve("inline").resolve(TraceFixture.DATA)), "inlining deletes the data file");

        GraphProto g = OnnxModelReader.load(externalModel).model().getGraph();
        long externalCount = 0;
        for (TensorProto t : g.getInitializerList()) {
            if (OnnxModelReader.isExternal(t)) {
                externalCount++;
                assertEquals(0, Long.parseLong(entry(t, "offset")) % ExternalDataWriter.ALIGNMENT, t.getName());
                assertEquals(TraceFixture.DATA, entry(t, "location"));
                assertTrue(t.getRawData().isEmpty());
            }
        }
        assertEquals(4, externalCount, "wte, fc.weight.T, ln.weight, ln.bias");
        for (TensorProto t : OnnxModelReader.load(inlineModel).model().getGraph().getInitializerList()) {
            assertFalse(OnnxModelReader.isExternal(t), t.getName());
            assertFalse(t.getRawData().isEmpty(), t.getName());
        }

        Map<String, HostTensor> feeds = Map.of("input_ids", HostTensor.ofLongs(new long[] {3, 0, 10, 7, 7, 1}, 2, 3));
        Ort.Out a = Ort.run(externalModel, feeds).get("logits");
        Ort.Out b = Ort.run(inlineModel, feeds).get("logits");
        assertArrayEquals(new long[] {2, 3, VOCAB}, a.shape());
        assertArrayEquals(b.floats(), a.floats());
    }

    @Test
    void aTiedWeightIsStoredOnce() throws IOException {
        TraceFixture f = traceTinyLm(dir);
        f.save(true);
        assertEquals(4, f.sink.tensorCount());
        long wteInits = f.model.getGraph().getInitializerList().stream().filter(t -> t.getName().equals("wte")).count();
        assertEquals(1, wteInits);
        // wte + fc.weight.T + 2 norms, each padded to the alignment: far below two copies of wte
        long bytes = Files.size(dir.resolve(TraceFixture.DATA));
        assertTrue(bytes < 2L * VOCAB * E * 4 + E * E * 4, "data file of " + bytes + " bytes");
        ByteBuffer stored = OnnxModelReader.load(dir.resolve(TraceFixture.MODEL)).data(
                f.model.getGraph().getInitializerList().stream().filter(t -> t.getName().equals("wte")).findFirst()
                        .orElseThrow());
        for (int i = 0; i < wte.length; i++) {
            assertEquals(wte[i], stored.getFloat(i * 4));
        }
    }

    @Test
    void transposeStreamsInChunksSmallerThanTheMatrix() throws IOException {
        int rows = 37;
        int cols = 53;
        float[] m = values(rows * cols, 1f, 0.2f);
        ByteBuffer src = ByteBuffer.allocateDirect(m.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        src.asFloatBuffer().put(m);
        for (int scratch : new int[] {64, 1000, ExternalDataWriter.DEFAULT_SCRATCH_BYTES}) {
            Path file = dir.resolve("t" + scratch + ".bin");
            TensorProto t;
            try (ExternalDataWriter w = new ExternalDataWriter(file, scratch)) {
                w.write("pad", DType.FLOAT, new long[] {3}, floats(1, 2, 3)); // so the matrix starts at 64
                t = w.writeTransposed("m.T", DType.FLOAT, rows, cols, TensorBytes.of(src));
            }
            assertEquals(List.of((long) cols, (long) rows), t.getDimsList());
            assertEquals("64", entry(t, "offset"));
            ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            for (int j = 0; j < cols; j++) {
                for (int i = 0; i < rows; i++) {
                    assertEquals(m[i * cols + j], all.getFloat(64 + (j * rows + i) * 4), "scratch " + scratch);
                }
            }
            assertEquals(0, src.position(), "the source buffer is not moved");
        }
    }

    @Test
    void aWrongByteCountNamesTheTensor() {
        try (ExternalDataWriter w = new ExternalDataWriter(dir.resolve("x.bin"))) {
            StepwiseException e = assertThrows(StepwiseException.class,
                    () -> w.write("h.0.attn.weight", DType.FLOAT, new long[] {2, 2}, floats(1, 2, 3)));
            assertTrue(e.getMessage().contains("h.0.attn.weight"), e.getMessage());
        }
    }

    @Test
    void inliningBeyondTwoGigabytesIsRefusedBeforeReading() throws IOException {
        TensorProto huge = TensorProto.newBuilder().setName("huge").setDataType(1).addDims(3L << 28)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(kv("location", TraceFixture.DATA)).addExternalData(kv("offset", "0"))
                .addExternalData(kv("length", Long.toString(3L << 30))).build();
        ModelProto model = ModelProto.newBuilder().setIrVersion(7)
                .setGraph(GraphProto.newBuilder().setName("g").addInitializer(huge)).build();
        Files.write(dir.resolve(TraceFixture.DATA), new byte[16]);
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> OnnxModelWriter.write(model, dir, TraceFixture.MODEL, TraceFixture.DATA, false));
        assertTrue(e.getMessage().contains("2 GiB"), e.getMessage());
        assertTrue(Files.exists(dir.resolve(TraceFixture.DATA)), "nothing deleted on failure");
        // kept external, the same model is small
        OnnxModelWriter.write(model, dir, TraceFixture.MODEL, TraceFixture.DATA, true);
        assertTrue(Files.size(dir.resolve(TraceFixture.MODEL)) < 1000);
    }

    private static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.flip();
    }

    private static StringStringEntryProto kv(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    static String entry(TensorProto t, String key) {
        return t.getExternalDataList().stream().filter(e -> e.getKey().equals(key)).findFirst()
                .map(StringStringEntryProto::getValue).orElse(null);
    }
}
