package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    /** Ordinary values plus the edge cases of each format: signed zero, subnormals, overflow, infinities, NaN. */
    private static final float[] VALUES = {0f, -0f, 1f, -2.5f, 1f / 3, 65504f, 70000f, 1e-7f, 6e-8f, 1e-40f,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 3.0e38f};

    private static float narrowed(SafetensorsDtype dtype, float v) {
        switch (dtype) {
            case F16:
                return HalfFloats.f16ToFloat(HalfFloats.floatToF16(v));
            case BF16:
                return HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(v));
            default:
                return v;
        }
    }

    @Test
    void roundTripsF32F16AndBf16() throws IOException {
        Path file = dir.resolve("out.safetensors");
        List<PlannedTensor> plan = List.of(
                new PlannedTensor("f32", SafetensorsDtype.F32, 2, 7),
                new PlannedTensor("f16", SafetensorsDtype.F16, 14),
                new PlannedTensor("bf16", SafetensorsDtype.BF16, 7, 1, 2));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, plan, Map.of("format", "pt"))) {
            // Out of declaration order, and in pieces.
            w.write("bf16", VALUES);
            w.write("f16", FloatBuffer.wrap(VALUES, 0, 5));
            w.write("f16", FloatBuffer.wrap(VALUES, 5, 9));
            w.write("f32", VALUES);
        }
        // The header is padded so the data section starts 8-byte aligned.
        ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, head.getLong(0) % 8);

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("f32", "f16", "bf16"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertArrayEquals(new long[] {7, 1, 2}, f.shape("bf16"));
            for (String name : f.names()) {
                SafetensorsDtype dtype = f.dtype(name);
                assertEquals(name, dtype.name().toLowerCase());
                FloatBuffer back = f.float32(name).asFloatBuffer();
                assertEquals(VALUES.length, back.remaining());
                for (int i = 0; i < VALUES.length; i++) {
                    float expected = narrowed(dtype, VALUES[i]);
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(back.get(i)), name + "[" + i + "] " + VALUES[i]);
                }
            }
            // Raw bits as PyTorch would store them.
            assertEquals((short) 0x3c00, f.raw("f16").getShort(2 * 2));
            assertEquals((short) 0x7c00, f.raw("f16").getShort(6 * 2)); // 70000 overflows half
            assertEquals((short) 0x3f80, f.raw("bf16").getShort(2 * 2));
            assertEquals(Float.floatToIntBits(-2.5f), f.raw("f32").getInt(3 * 4));
        }
    }

    @Test
    void producerFillsLargeTensorsChunkByChunk() {
        Path file = dir.resolve("big.safetensors");
        int n = 3_000_001; // more than two chunks, not a multiple of the chunk size
        try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(new PlannedTensor("ramp", SafetensorsDtype.F32, n)))) {
            w.write("ramp", (first, chunk) -> {
                for (int i = 0; chunk.hasRemaining(); i++) {
                    chunk.put(first + i);
                }
            });
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            FloatBuffer back = f.float32("ramp").asFloatBuffer();
            for (int i = 0; i < n; i += 9973) {
                assertEquals((float) i, back.get(i));
            }
            assertEquals((float) (n - 1), back.get(n - 1));
        }
    }

    @Test
    void incompleteTensorsLeaveNoFile() throws IOException {
        Path file = dir.resolve("never.safetensors");
        SafetensorsWriter w = SafetensorsWriter.create(file, List.of(
                new PlannedTensor("done", SafetensorsDtype.F32, 1), new PlannedTensor("half", SafetensorsDtype.F16, 4)));
        w.write("done", new float[] {1});
        w.write("half", new float[] {1, 2});
        IllegalStateException e = assertThrows(IllegalStateException.class, w::close);
        assertTrue(e.getMessage().contains("half (4 of 8 bytes)"), e.getMessage());
        assertFalse(Files.exists(file));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(0, left.count(), "no temporary file left behind");
        }
    }

    @Test
    void misuseIsRejected() {
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("x.safetensors"),
                List.of(new PlannedTensor("w", SafetensorsDtype.F32, 2), new PlannedTensor("ids", SafetensorsDtype.I64, 1)))) {
            assertThrows(IllegalArgumentException.class, () -> w.write("nope", new float[] {1}));
            assertThrows(IllegalStateException.class, () -> w.write("w", new float[] {1, 2, 3}));
            assertThrows(IllegalArgumentException.class, () -> w.write("ids", new float[] {1}));
            w.write("w", new float[] {1, 2});
            w.writeRaw("ids", ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 42));
        }
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(dir.resolve("y.safetensors"),
                List.of(new PlannedTensor("w", SafetensorsDtype.F32, 1), new PlannedTensor("w", SafetensorsDtype.F32, 1))));
        assertThrows(IllegalArgumentException.class, () -> new PlannedTensor("w", SafetensorsDtype.F32, 2, -1));
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("x.safetensors"))) {
            assertEquals(42, f.raw("ids").getLong(0));
        }
    }
}
