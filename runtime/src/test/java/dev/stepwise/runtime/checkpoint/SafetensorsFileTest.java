package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reading real files written by other people's tooling. */
class SafetensorsFileTest {
    private static final Path GPT2 = Fixtures.path("gpt2-tiny-random/model.safetensors");
    private static final Path LLAMA_FP16 = Fixtures.path("llama-tiny-random-fp16/model.safetensors");

    @Test
    void readsGpt2TinyRandomFp32() {
        try (SafetensorsFile f = SafetensorsFile.open(GPT2)) {
            // 4 top-level tensors + 12 per layer × 5 layers; tied head so no lm_head.weight.
            assertEquals(64, f.names().size());
            assertTrue(!f.has("lm_head.weight"));
            assertArrayEquals(new long[] {1000, 32}, f.shape("transformer.wte.weight"));
            assertArrayEquals(new long[] {512, 32}, f.shape("transformer.wpe.weight"));
            assertArrayEquals(new long[] {32, 96}, f.shape("transformer.h.4.attn.c_attn.weight"));
            assertArrayEquals(new long[] {128, 32}, f.shape("transformer.h.0.mlp.c_proj.weight"));
            assertEquals(SafetensorsDtype.F32, f.dtype("transformer.wte.weight"));

            ByteBuffer wte = f.float32("transformer.wte.weight");
            assertEquals(ByteOrder.LITTLE_ENDIAN, wte.order());
            assertTrue(wte.isReadOnly(), "F32 tensors are handed out as read-only mappings");
            assertTrue(wte.isDirect());
            assertEquals(0, wte.position());
            assertEquals(1000 * 32 * 4, wte.limit());
            FloatBuffer values = wte.asFloatBuffer();
            // Values read from the file with numpy.
            assertEquals((float) -0.020643139258027077, values.get(0));
            assertEquals((float) 0.01250049564987421, values.get(1));
            assertEquals((float) -0.004175789188593626, values.get(1000 * 32 - 1));
            assertEquals((float) 0.02560567855834961, f.float32("transformer.h.0.attn.c_attn.weight").asFloatBuffer().get(0));

            // The fixture README: every LayerNorm weight is 1 and every bias 0.
            FloatBuffer lnF = f.float32("transformer.ln_f.weight").asFloatBuffer();
            for (int i = 0; i < 32; i++) {
                assertEquals(1f, lnF.get(i));
            }
            FloatBuffer bias = f.float32("transformer.h.2.mlp.c_fc.bias").asFloatBuffer();
            for (int i = 0; i < 128; i++) {
                assertEquals(0f, bias.get(i));
            }
        }
    }

    @Test
    void readsMetadata() {
        try (SafetensorsFile f = SafetensorsFile.open(LLAMA_FP16)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
        }
    }

    @Test
    void widensLlamaFp16AgainstHandConversionOfRawBits() throws IOException {
        // Read the file without the code under test: header by Gson, values as raw little-endian uint16.
        byte[] file = Files.readAllBytes(LLAMA_FP16);
        ByteBuffer all = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) all.getLong(0);
        JsonObject header = JsonParser.parseString(new String(file, 8, headerLength, StandardCharsets.UTF_8)).getAsJsonObject();
        int dataStart = 8 + headerLength;

        try (SafetensorsFile f = SafetensorsFile.open(LLAMA_FP16)) {
            assertEquals(21, f.names().size());
            assertArrayEquals(new long[] {32000, 16}, f.shape("model.embed_tokens.weight"));
            assertArrayEquals(new long[] {32000, 16}, f.shape("lm_head.weight"));
            assertArrayEquals(new long[] {16, 64}, f.shape("model.layers.1.mlp.down_proj.weight"));
            assertArrayEquals(new long[] {64, 16}, f.shape("model.layers.0.mlp.gate_proj.weight"));

            for (String name : new String[] {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                    "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"}) {
                assertEquals(SafetensorsDtype.F16, f.dtype(name));
                JsonArray offsets = header.getAsJsonObject(name).getAsJsonArray("data_offsets");
                int begin = dataStart + offsets.get(0).getAsInt();
                int count = (offsets.get(1).getAsInt() - offsets.get(0).getAsInt()) / 2;

                ByteBuffer widened = f.float32(name);
                assertEquals(ByteOrder.LITTLE_ENDIAN, widened.order());
                assertEquals(count * 4, widened.limit());
                FloatBuffer values = widened.asFloatBuffer();
                for (int i = 0; i < count; i++) {
                    int bits = all.getShort(begin + 2 * i) & 0xffff;
                    assertEquals(HalfFloatsTest.f16ByDefinition(bits), values.get(i), 0, name + "[" + i + "]");
                }
            }
            // Spot values (numpy): raw 0x1d41 is the first embedding value; norm weights are exactly 1.
            assertEquals(0.005130767822265625f, f.float32("model.embed_tokens.weight").asFloatBuffer().get(0));
            assertEquals(-0.000732421875f, f.float32("lm_head.weight").asFloatBuffer().get(0));
            assertEquals(1.0f, f.float32("model.norm.weight").asFloatBuffer().get(7));
            assertEquals((short) 0x1d41, f.raw("model.embed_tokens.weight").getShort(0));
        }
    }

    @Test
    void integerTensorsAreCheckedButNotReadAsFloat(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path file = SafetensorsBytes.write(dir.resolve("ids.safetensors"),
                "{" + SafetensorsBytes.entry("ids", "I64", "[2, 3]", 0, 48) + "}", 48);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(SafetensorsDtype.I64, f.dtype("ids"));
            assertEquals(48, f.raw("ids").remaining());
            StepwiseException e = assertThrows(StepwiseException.class, () -> f.float32("ids"));
            assertTrue(e.getMessage().contains("'ids' is I64"), e.getMessage());
        }
    }

    @Test
    void tensorsBeyondTwoGibibytesAreMappedOnTheirOwn(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        // A sparse 3 GiB file: a huge U8 tensor first, then a small F32 one that starts past 2^31.
        long big = 3L << 30;
        String header = "{" + SafetensorsBytes.entry("pad", "U8", "[" + big + "]", 0, big) + ","
                + SafetensorsBytes.entry("w", "F32", "[4]", big, big + 16) + "}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("sparse.safetensors");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(json.length).put(json).flip();
            ch.write(head, 0);
            ByteBuffer w = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            w.asFloatBuffer().put(new float[] {1.5f, -2, 3, 4});
            ch.write(w, 8 + json.length + big);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(big + 16, f.dataSize());
            FloatBuffer values = f.float32("w").asFloatBuffer();
            assertEquals(1.5f, values.get(0));
            assertEquals(4f, values.get(3));
            StepwiseException e = assertThrows(StepwiseException.class, () -> f.raw("pad"));
            assertTrue(e.getMessage().contains("tensor 'pad' holds 3221225472 bytes; tensors over 2 GiB"), e.getMessage());
        }
    }

    @Test
    void emptyTensorsAndSpacePaddedHeaders(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path file = SafetensorsBytes.write(dir.resolve("empty.safetensors"),
                "{" + SafetensorsBytes.entry("empty", "F32", "[0, 4]", 0, 0) + ","
                        + SafetensorsBytes.entry("one", "F32", "[1]", 0, 4) + "}    ", 4);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(0, f.float32("empty").limit());
            assertEquals(0f, f.float32("one").getFloat(0));
        }
    }
}
