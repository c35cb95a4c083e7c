package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad checkpoints through the CLI: each gives exit status 1, one error line naming the file/tensor/key, and no
 * output folder (nor a leftover temporary folder) behind.
 */
class BadInputTest {
    @TempDir
    Path tmp;

    record Outcome(int status, String stderr) {
    }

    Outcome export(Path checkpoint) {
        PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run("export", "--model", checkpoint.toString(), "--output", tmp.resolve("out").toString());
            return new Outcome(status, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(savedErr);
        }
    }

    Path copyOfFixture() throws IOException {
        Path dir = tmp.resolve("ckpt");
        Files.createDirectories(dir);
        Path fixture = Fixtures.path("gpt2-tiny-random");
        Files.copy(fixture.resolve("config.json"), dir.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(fixture.resolve("model.safetensors"), dir.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        dir.resolve("config.json").toFile().setWritable(true);
        dir.resolve("model.safetensors").toFile().setWritable(true);
        return dir;
    }

    void assertFailsCleanly(Outcome o, String... mustContain) throws IOException {
        assertEquals(1, o.status(), "exit status; stderr: " + o.stderr());
        String line = o.stderr().strip();
        String errorLine = line.lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("");
        assertFalse(errorLine.isEmpty(), "an 'error:' line on stderr, got: " + line);
        for (String s : mustContain) {
            assertTrue(errorLine.contains(s), "error line should contain '" + s + "': " + errorLine);
        }
        assertFalse(Files.exists(tmp.resolve("out")), "no output folder is left behind");
        try (Stream<Path> left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".out.")), "no temporary folder is left");
        }
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path dir = copyOfFixture();
        Path file = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length / 2));
        assertFailsCleanly(export(dir), "model.safetensors");
    }

    @Test
    void headerOffsetsPastTheEnd() throws IOException {
        Path dir = copyOfFixture();
        String header = "{\"transformer.wte.weight\":{\"dtype\":\"F32\",\"shape\":[1000,32],\"data_offsets\":[0,128000]}}";
        writeSafetensors(dir.resolve("model.safetensors"), header, new byte[64]);
        assertFailsCleanly(export(dir), "transformer.wte.weight");
    }

    @Test
    void tensorWithWrongShape() throws IOException {
        Path dir = copyOfFixture();
        // Same file, but config says 6 heads of a 36-wide model: every matrix has the wrong shape.
        String config = Files.readString(dir.resolve("config.json")).replace("\"n_embd\": 32", "\"n_embd\": 36")
                .replace("\"n_head\": 4", "\"n_head\": 6");
        Files.writeString(dir.resolve("config.json"), config);
        assertFailsCleanly(export(dir), "shape", "[1000, 36]");
    }

    @Test
    void missingTensor() throws IOException {
        Path dir = copyOfFixture();
        String config = Files.readString(dir.resolve("config.json")).replace("\"n_layer\": 5", "\"n_layer\": 6");
        Files.writeString(dir.resolve("config.json"), config);
        assertFailsCleanly(export(dir), "transformer.h.5.");
    }

    @Test
    void unknownModelType() throws IOException {
        Path dir = copyOfFixture();
        String config = Files.readString(dir.resolve("config.json")).replace("\"model_type\": \"gpt2\"", "\"model_type\": \"mamba9\"");
        Files.writeString(dir.resolve("config.json"), config);
        assertFailsCleanly(export(dir), "config.json", "mamba9", "gpt2");
    }

    @Test
    void malformedConfigJson() throws IOException {
        Path dir = copyOfFixture();
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 5,,}");
        assertFailsCleanly(export(dir), "config.json", "malformed JSON");
    }

    @Test
    void missingConfigKey() throws IOException {
        Path dir = copyOfFixture();
        String config = Files.readString(dir.resolve("config.json")).replace("\"n_head\": 4,", "");
        Files.writeString(dir.resolve("config.json"), config);
        assertFailsCleanly(export(dir), "config.json", "n_head");
    }

    @Test
    void badUsageIsStatusTwo() {
        PrintStream savedErr = System.err;
        System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            assertEquals(2, Main.run("export", "--model", "x"));
            assertEquals(2, Main.run("export", "--model", "x", "--output", "y", "--task", "translation"));
            assertEquals(2, Main.run("no-such-command"));
        } finally {
            System.setErr(savedErr);
        }
    }

    static void writeSafetensors(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(file, b.array());
    }
}
