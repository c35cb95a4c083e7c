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
 * One {@code gather_cases} entry of {@code quantize/int4-goldens.json}: an embedding table, the
 * GatherBlockQuantized initializers ONNX Runtime's quantizer made from it (raw int4 bytes), and the rows that
 * quantized Gather returned for {@code ids}.
 */
record Int4GatherGolden(String name, int rows, int cols, int blockSize, boolean symmetric, float[] e, byte[] data,
                        float[] scales, long[] scalesDims, byte[] zeroPoints, long[] ids, float[] y) {

    static List<Int4GatherGolden> all() {
        try (InputStream in = Int4GatherGolden.class.getResourceAsStream(Int4Golden.RESOURCE)) {
            JsonObject doc = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            List<Int4GatherGolden> cases = new ArrayList<>();
            for (JsonElement e : doc.getAsJsonArray("gather_cases")) {
                cases.add(of(e.getAsJsonObject()));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Int4GatherGolden of(JsonObject c) {
        return new Int4GatherGolden(c.get("name").getAsString(), c.get("rows").getAsInt(), c.get("cols").getAsInt(),
                c.get("block_size").getAsInt(), c.get("symmetric").getAsBoolean(), floats(c, "E"), bytes(c, "data"),
                floats(c, "scales"), longs(c, "scales_dims"), c.has("zero_points") ? bytes(c, "zero_points") : null,
                longs(c, "ids"), floats(c, "Y"));
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

    private static long[] longs(JsonObject c, String key) {
        return c.getAsJsonArray(key).asList().stream().mapToLong(JsonElement::getAsLong).toArray();
    }

    @Override
    public String toString() {
        return name;
    }
}
