package dev.stepwise.runtime.quantize;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * One case of {@code quantize/int4-goldens.json} (written by {@code tools/int4_goldens.py} with ONNX Runtime's
 * MatMulNBitsQuantizer): the float weight and the MatMulNBits initializers that tool made from it, and, for runnable
 * cases, the quantized one-op model's output Y on X.
 */
record Int4Golden(String name, int k, int n, int blockSize, boolean symmetric, float[] w,
                  byte[] b, long[] bDims, float[] scales, long[] scalesDims, byte[] zeroPoints, long[] zeroPointsDims,
                  int m, float[] x, float[] y) {

    static final String RESOURCE = "/quantize/int4-goldens.json";

    static List<Int4Golden> all() {
        try (InputStream in = Int4Golden.class.getResourceAsStream(RESOURCE)) {
            JsonObject doc = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            List<Int4Golden> cases = new ArrayList<>();
            for (JsonElement e : doc.getAsJsonArray("cases")) {
                cases.add(of(e.getAsJsonObject()));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    boolean runnable() {
        return y != null;
    }

    private static Int4Golden of(JsonObject c) {
        boolean hasZp = c.has("zero_points");
        boolean run = c.has("Y");
        return new Int4Golden(c.get("name").getAsString(), c.get("K").getAsInt(), c.get("N").getAsInt(),
                c.get("block_size").getAsInt(), c.get("symmetric").getAsBoolean(), floats(c, "W"),
                bytes(c, "B"), dims(c, "B_dims"), floats(c, "scales"), dims(c, "scales_dims"),
                hasZp ? bytes(c, "zero_points") : null, hasZp ? dims(c, "zero_points_dims") : null,
                run ? c.get("M").getAsInt() : 0, run ? floats(c, "X") : null, run ? floats(c, "Y") : null);
    }

    private static byte[] bytes(JsonObject c, String key) {
        return Base64.getDecoder().decode(c.get(key).getAsString());
    }

    private static float[] floats(JsonObject c, String key) {
        ByteBuffer buf = ByteBuffer.wrap(bytes(c, key)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[buf.remaining() / 4];
        buf.asFloatBuffer().get(f);
        return f;
    }

    private static long[] dims(JsonObject c, String key) {
        return c.getAsJsonArray(key).asList().stream().mapToLong(JsonElement::getAsLong).toArray();
    }

    @Override
    public String toString() {
        return name;
    }
}
