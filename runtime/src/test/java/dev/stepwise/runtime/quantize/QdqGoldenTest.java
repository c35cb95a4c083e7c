package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * int8-static against ONNX Runtime's own {@code quantize_static} (QDQ, MinMax, per-channel, QUInt8 activations, QInt8
 * weights, MatMul/Gemm outputs unquantized) on the same tiny model and calibration rows ({@code tools/qdq_goldens.py}
 * wrote {@code quantize/qdq-tiny/}): every activation scale and zero point, every per-channel weight scale and zero
 * point and every int8 weight byte equal, bit for bit.
 */
class QdqGoldenTest {
    @TempDir
    Path tmp;

    @Test
    void scalesZeroPointsAndWeightsEqualOnnxRuntimesQuantizeStatic() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        for (String f : List.of("model.onnx", "calibration.txt")) {
            try (InputStream in = getClass().getResourceAsStream("/quantize/qdq-tiny/" + f)) {
                Files.copy(in, src.resolve(f));
            }
        }
        JsonObject expected;
        try (InputStream in = getClass().getResourceAsStream("/quantize/qdq-tiny/expected.json")) {
            expected = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
        QuantizeResult r = Quantizer.quantize(src.resolve("model.onnx"), tmp.resolve("out"),
                QuantizeOptions.defaults(QuantizeMode.INT8_STATIC).withGate(false)
                        .withStatic(StaticQdqOptions.defaults().withCalibration(src.resolve("calibration.txt"))));
        OnnxModelReader q = OnnxModelReader.load(r.models().get(0));
        Map<String, TensorProto> ours = new HashMap<>();
        q.initializers().forEach(t -> ours.put(t.getName(), t));
        JsonObject inits = expected.getAsJsonObject("initializers");
        assertEquals(15, inits.size());
        for (Map.Entry<String, JsonElement> e : inits.entrySet()) {
            TensorProto t = ours.get(e.getKey());
            assertTrue(t != null, "no initializer " + e.getKey() + " in " + ours.keySet());
            JsonObject want = e.getValue().getAsJsonObject();
            assertEquals(want.get("data_type").getAsInt(), t.getDataType(), e.getKey());
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            long[] wantDims = new long[want.getAsJsonArray("dims").size()];
            for (int i = 0; i < wantDims.length; i++) {
                wantDims[i] = want.getAsJsonArray("dims").get(i).getAsLong();
            }
            assertArrayEquals(wantDims, dims, e.getKey());
            ByteBuffer data = q.data(t);
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            assertArrayEquals(Base64.getDecoder().decode(want.get("raw").getAsString()), bytes, e.getKey());
        }
        Map<String, Integer> ops = q.opCounts();
        JsonObject wantOps = expected.getAsJsonObject("op_counts");
        for (String op : List.of("QuantizeLinear", "DequantizeLinear", "MatMul", "Gemm")) {
            assertEquals(wantOps.get(op).getAsInt(), ops.get(op), op);
        }
    }
}
