package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelReaderTest {
    @TempDir
    Path dir;

    private Path save(boolean external) {
        float[] w = OpHarness.values(4 * 3, 1f, 0.5f);
        TraceFixture f = new TraceFixture(dir, 13, new MapWeightSource().put("w", w, 4, 3));
        Tensor x = f.ops.input("x", DType.FLOAT, List.of("batch_size", 4));
        f.ops.output("y", f.ops.relu(f.ops.matmul(x, f.ops.weight("w"))));
        f.ops.output("z", f.ops.relu(x));
        return f.save(external);
    }

    @Test
    void summarizesAModelWithExternalData() {
        OnnxModelReader r = OnnxModelReader.load(save(true));
        assertEquals(List.of("x"), r.inputs().stream().map(v -> v.getName()).toList());
        assertEquals(List.of("y", "z"), r.outputs().stream().map(v -> v.getName()).toList());
        assertEquals(Map.of("MatMul", 1, "Relu", 2), r.opCounts());
        assertEquals(48, r.initializerBytes());
        assertEquals(Set.of(TraceFixture.DATA), r.externalFiles());
        ByteBuffer data = r.data(r.initializers().get(0));
        assertEquals(48, data.remaining());
        assertEquals(OpHarness.values(12, 1f, 0.5f)[5], data.getFloat(20));
        String summary = r.summary();
        assertTrue(summary.contains("input  x float[batch_size, 4]"), summary);
        assertTrue(summary.contains("external data in model.onnx_data"), summary);
    }

    @Test
    void readsInlinedData() {
        OnnxModelReader r = OnnxModelReader.load(save(false));
        assertEquals(Set.of(), r.externalFiles());
        assertEquals(48, r.initializerBytes());
        assertEquals(OpHarness.values(12, 1f, 0.5f)[11], r.data(r.initializers().get(0)).getFloat(44));
    }

    @Test
    void refusesExternalDataOutsideTheModelFolder() throws Exception {
        TensorProto t = TensorProto.newBuilder().setName("w").setDataType(1).addDims(1)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("../secret"))
                .build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(7)
                .setGraph(GraphProto.newBuilder().setName("g").addInitializer(t)).build();
        Path file = dir.resolve("m.onnx");
        Files.write(file, m.toByteArray());
        // refused when the model is loaded, before anything reads the tensor
        StepwiseException e = assertThrows(StepwiseException.class, () -> OnnxModelReader.load(file));
        assertTrue(e.getMessage().contains("outside the model folder"), e.getMessage());
    }

    @Test
    void badFilesAreClearErrors() throws Exception {
        assertThrows(StepwiseException.class, () -> OnnxModelReader.load(dir.resolve("missing.onnx")));
        Path junk = dir.resolve("junk.onnx");
        Files.write(junk, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3});
        StepwiseException e = assertThrows(StepwiseException.class, () -> OnnxModelReader.load(junk));
        assertTrue(e.getMessage().contains("junk.onnx"), e.getMessage());
    }
}
