package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Int4GatherQuantizer against ONNX Runtime's quantizer for Gather (goldens from {@code tools/int4_goldens.py}): the
 * same int4 bytes, scales and zero points, and the Java-built GatherBlockQuantized model returns, in ONNX Runtime
 * Java, exactly the rows the Python tool's model returned and the Java dequantized table holds.
 */
class Int4GatherQuantizerTest {
    /** ONNX TensorProto.DataType values the project's onnx.proto does not name (data_type is an int32 field). */
    private static final int UINT4 = 21;
    private static final int INT4 = 22;

    @TempDir
    Path dir;

    @TestFactory
    Stream<DynamicTest> bytesEqualOnnxRuntimeQuantizer() {
        return Int4GatherGolden.all().stream().map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4GatherWeights q = quantize(g);
            assertArrayEquals(g.data(), q.data(), "data");
            assertArrayEquals(g.scalesDims(), q.scalesDims(), "scales dims");
            assertArrayEquals(rawBits(g.scales()), rawBits(q.scales()), "scales (bits)");
            if (g.symmetric()) {
                assertNull(q.zeroPoints());
            } else {
                assertArrayEquals(g.zeroPoints(), q.zeroPoints(), "zero_points");
            }
        }));
    }

    /** Half a step of error, except the symmetric clip at +7 (the larger-magnitude side takes -8): one step. */
    @TestFactory
    Stream<DynamicTest> dequantizeWithinHalfAStep() {
        return Int4GatherGolden.all().stream().map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4GatherWeights q = quantize(g);
            float[] deq = Int4GatherQuantizer.dequantize(q);
            for (int r = 0; r < g.rows(); r++) {
                for (int c = 0; c < g.cols(); c++) {
                    double step = Math.abs(q.scales()[r * q.blocks() + c / g.blockSize()]);
                    double err = Math.abs(deq[r * g.cols() + c] - g.e()[r * g.cols() + c]);
                    double allowed = step * ((g.symmetric() ? 1.0 : 0.5) + 1e-5);
                    assertTrue(err <= allowed, "[" + r + ", " + c + "]: |error| " + err + " > " + allowed);
                }
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> javaBuiltModelRunsInOnnxRuntime() {
        return Int4GatherGolden.all().stream().map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4GatherWeights q = quantize(g);
            float[] y;
            try (OrtSession session = OrtSessions.open(writeModel(q, g.ids().length, dir.resolve(g.name())), 1)) {
                y = OrtRunner.run(session, Map.of("ids", HostTensor.ofLongs(g.ids(), g.ids().length)))
                        .get("Y").floats();
            }
            assertArrayEquals(rawBits(g.y()), rawBits(y), "rows vs the Python tool's model");
            float[] deq = Int4GatherQuantizer.dequantize(q);
            for (int i = 0; i < g.ids().length; i++) {
                for (int c = 0; c < g.cols(); c++) {
                    assertEquals(deq[(int) g.ids()[i] * g.cols() + c], y[i * g.cols() + c], "row " + g.ids()[i]);
                }
            }
        }));
    }

    @Test
    void rejectsUnsupportedBlockSize() {
        assertThrows(StepwiseException.class, () -> new Int4GatherQuantizer(24, true));
    }

    private static Int4GatherWeights quantize(Int4GatherGolden g) {
        return new Int4GatherQuantizer(g.blockSize(), g.symmetric()).quantize(g.e(), g.rows(), g.cols());
    }

    /** A one-node GatherBlockQuantized model: Y = dequantized rows {@code ids} of the table (gather axis 0). */
    private static Path writeModel(Int4GatherWeights q, int idCount, Path dir) throws Exception {
        GraphBuilder g = new GraphBuilder("gather_block_quantized", 21);
        g.importOpset("com.microsoft", 1);
        g.addInput(GraphBuilder.tensorInfo("ids", TensorProto.DataType.INT64_VALUE, new long[] {idCount}));
        g.addInitializer(tensor("E_Q4", q.symmetric() ? INT4 : UINT4, q.dataDims(), q.data()));
        ByteBuffer scales = ByteBuffer.allocate(q.scales().length * 4).order(ByteOrder.LITTLE_ENDIAN);
        scales.asFloatBuffer().put(q.scales());
        g.addInitializer(tensor("E_scales", TensorProto.DataType.FLOAT_VALUE, q.scalesDims(), scales.array()));
        List<String> inputs = new ArrayList<>(List.of("E_Q4", "ids", "E_scales"));
        if (!q.symmetric()) {
            g.addInitializer(tensor("E_zero_points", UINT4, q.scalesDims(), q.zeroPoints()));
            inputs.add("E_zero_points");
        }
        String y = g.addNode("com.microsoft", "GatherBlockQuantized", inputs, 1, Attributes.of("gather_axis", 0L),
                Attributes.of("quantize_axis", 1L), Attributes.of("block_size", q.blockSize())).get(0);
        g.renameNodeOutput(y, "Y");
        g.addOutput(GraphBuilder.tensorInfo("Y", TensorProto.DataType.FLOAT_VALUE, new long[] {idCount, q.cols()}));
        Files.createDirectories(dir);
        return OnnxModelWriter.write(g.build(false), dir, "model.onnx", "model.onnx.data", false);
    }

    private static TensorProto tensor(String name, int type, long[] dims, byte[] raw) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type).setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static int[] rawBits(float[] f) {
        int[] bits = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            bits[i] = Float.floatToRawIntBits(f[i]);
        }
        return bits;
    }
}
