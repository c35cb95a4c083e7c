package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.SafetensorsBytes.entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalogue of broken files: each message is one line naming the file, the tensor or field, and what was expected. */
class SafetensorsErrorsTest {
    @TempDir
    Path dir;

    private String failOpen(Path file) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> SafetensorsFile.open(file).close());
        String message = e.getMessage();
        assertFalse(message.contains("\n"), "one line: " + message);
        assertTrue(message.startsWith(file.toString() + ": "), "names the file: " + message);
        return message;
    }

    private Path file(String header, int dataBytes) throws IOException {
        return SafetensorsBytes.write(dir.resolve("model.safetensors"), header, dataBytes);
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path f = Files.write(dir.resolve("model.safetensors"),
                Arrays.copyOf(Files.readAllBytes(Fixtures.path("gpt2-tiny-random/model.safetensors")), 5));
        assertMentions(failOpen(f), "5 bytes", "shorter than the 8-byte");
    }

    @Test
    void truncatedDownloadNamesTheFirstTensorPastTheEnd() throws IOException {
        // The fixture cut at 100000 bytes: 100000 − 8 − 5984 header bytes = 94008 data bytes survive.
        byte[] whole = Files.readAllBytes(Fixtures.path("gpt2-tiny-random/model.safetensors"));
        Path f = Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(whole, 100_000));
        assertMentions(failOpen(f), "header offsets past the end", "'transformer.h.1.mlp.c_proj.weight'", "101632", "94008");
    }

    @Test
    void headerOffsetsPastTheEnd() throws IOException {
        Path f = file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[4]", 8, 24) + "}", 20);
        assertMentions(failOpen(f), "header offsets past the end", "tensor 'b'", "24", "20 data bytes");
    }

    @Test
    void headerLengthLongerThanTheFile() throws IOException {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        Path f = SafetensorsBytes.write(dir.resolve("model.safetensors"), 5000, json, 10);
        assertMentions(failOpen(f), "header length 5000", "past the end of the 20-byte file");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        Path f = SafetensorsBytes.write(dir.resolve("model.safetensors"), 1L << 40, new byte[100], 0);
        assertMentions(failOpen(f), "header length 1099511627776", "not plausible");
        Path negative = SafetensorsBytes.write(dir.resolve("negative.safetensors"), -1, new byte[100], 0);
        assertMentions(failOpen(negative), "18446744073709551615", "not plausible");
    }

    @Test
    void malformedJson() throws IOException {
        assertMentions(failOpen(file("{\"a\": {\"dtype\": \"F32\",", 0)), "malformed safetensors header JSON");
        assertMentions(failOpen(file("{'a': 1}", 0)), "malformed safetensors header JSON");
        assertMentions(failOpen(file("[1, 2]", 0)), "expected a JSON object");
        assertMentions(failOpen(file("{} {}", 0)), "malformed safetensors header");
        assertMentions(failOpen(file("{\"a\": 3}", 0)), "tensor 'a'", "expected an object with dtype, shape and data_offsets");
        Path notUtf8 = SafetensorsBytes.write(dir.resolve("latin1.safetensors"), 4, new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'}, 0);
        assertMentions(failOpen(notUtf8), "not valid UTF-8");
    }

    @Test
    void missingFields() throws IOException {
        assertMentions(failOpen(file("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4)), "tensor 'w'", "missing field 'dtype'");
        assertMentions(failOpen(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4)), "tensor 'w'", "missing field 'shape'");
        assertMentions(failOpen(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)), "tensor 'w'", "missing field 'data_offsets'");
    }

    @Test
    void unknownDtype() throws IOException {
        assertMentions(failOpen(file("{" + entry("w", "F33", "[1]", 0, 4) + "}", 4)),
                "tensor 'w'", "unknown dtype 'F33'", "expected one of F32, F16, BF16");
        assertMentions(failOpen(file("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4)),
                "tensor 'w'", "'dtype' must be a string");
    }

    @Test
    void byteLengthDisagreesWithDtypeAndShape() throws IOException {
        // F16 [2, 3] needs 12 bytes, the offsets give 24 (a file whose header says F16 for F32 data).
        assertMentions(failOpen(file("{" + entry("w", "F16", "[2, 3]", 0, 24) + "}", 24)),
                "tensor 'w'", "span 24 bytes, expected 12", "6 elements of F16");
    }

    @Test
    void badShapes() throws IOException {
        assertMentions(failOpen(file("{" + entry("w", "F32", "[2, -3]", 0, 0) + "}", 0)), "tensor 'w'", "negative dimension -3");
        assertMentions(failOpen(file("{" + entry("w", "F32", "[2.5]", 0, 0) + "}", 0)), "tensor 'w'", "must hold integers");
        assertMentions(failOpen(file("{" + entry("w", "F32", "\"2x2\"", 0, 0) + "}", 0)), "tensor 'w'", "'shape' must be an array");
        assertMentions(failOpen(file("{" + entry("w", "F32", "[4294967296, 4294967296, 4294967296]", 0, 0) + "}", 0)),
                "tensor 'w'", "too many elements");
    }

    @Test
    void badDataOffsets() throws IOException {
        assertMentions(failOpen(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4)),
                "tensor 'w'", "data_offsets must be two non-negative integers");
        assertMentions(failOpen(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4)),
                "tensor 'w'", "two non-negative integers");
        assertMentions(failOpen(file("{" + entry("w", "F32", "[1]", -4, 0) + "}", 4)), "tensor 'w'", "non-negative");
        assertMentions(failOpen(file("{" + entry("w", "F32", "[1]", 8, 4) + "}", 8)), "tensor 'w'", "begin after they end");
    }

    @Test
    void overlappingTensors() throws IOException {
        String header = "{" + entry("first", "F32", "[4]", 0, 16) + "," + entry("second", "F32", "[2]", 12, 20) + "}";
        assertMentions(failOpen(file(header, 20)), "'first' [0, 16)", "'second' [12, 20)", "overlap");
    }

    @Test
    void duplicateNames() throws IOException {
        String header = "{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}";
        assertMentions(failOpen(file(header, 8)), "tensor 'w' twice");
    }

    @Test
    void badMetadata() throws IOException {
        assertMentions(failOpen(file("{\"__metadata__\":{\"format\":1}}", 0)), "'__metadata__.format' must be a string");
    }

    @Test
    void missingFile() {
        Path f = dir.resolve("nothing.safetensors");
        assertMentions(failOpen(f), "file not found");
    }

    @Test
    void aValidHandBuiltFileStillOpens() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file("{\"__metadata__\":{\"format\":\"pt\"},"
                + entry("w", "BF16", "[2]", 0, 4) + "}", 4))) {
            assertEquals(SafetensorsDtype.BF16, f.dtype("w"));
        }
    }
}
