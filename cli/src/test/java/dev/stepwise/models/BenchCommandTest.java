package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.cli.Main;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stepwise bench --json} end to end on a tiny random GPT-2: one JSON object on stdout with every figure, sane
 * values, and both engines agreeing on the greedy tokens. Nothing here is timed: speed is read from the figures.
 */
class BenchCommandTest {
    static final List<String> POSITIVE_FIGURES = List.of("export_seconds", "ort_prefill_ms", "ort_decode_ms_per_token",
            "torch_prefill_ms", "torch_decode_ms_per_token", "floor_ms_per_token", "ort_vs_floor",
            "ort_vs_torch_decode_ratio", "ort_vs_torch_prefill_ratio", "weight_bytes");

    @TempDir
    Path tmp;

    record Outcome(int status, String stdout, String stderr) {
    }

    Outcome bench(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(Stream.concat(Stream.of("bench"), Stream.of(args)).toArray(String[]::new));
            return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @Test
    void jsonHasEveryFigureWithSaneValues() {
        Path checkpoint = tmp.resolve("gpt2-tiny");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);
        List<String> tempBefore = benchTempFolders();

        Outcome o = bench("--model", checkpoint.toString(), "--prompt-length", "8", "--new-tokens", "5",
                "--threads", "1", "--warmup", "1", "--runs", "2", "--json");

        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        List<String> lines = o.stdout().strip().lines().toList();
        assertEquals(1, lines.size(), "stdout holds exactly one JSON object, got: " + o.stdout());
        JsonObject j = JsonParser.parseString(lines.get(0)).getAsJsonObject();

        for (String key : POSITIVE_FIGURES) {
            assertTrue(j.has(key), "missing " + key + " in " + j);
            double v = j.get(key).getAsDouble();
            assertTrue(v > 0 && Double.isFinite(v), key + " = " + v);
        }
        assertEquals(1, j.get("batch_size").getAsInt());
        assertEquals(8, j.get("prompt_length").getAsInt());
        assertEquals(5, j.get("new_tokens").getAsInt());
        assertEquals(1, j.get("threads").getAsInt());
        assertTrue(j.get("same_tokens").getAsBoolean(), "ONNX Runtime and the PyTorch reference chose different tokens");
        assertEquals(2 * 4, j.get("decode_samples").getAsInt(), "2 runs of 4 decode steps each");
        assertTrue(List.of("reduce_max", "reduce_sum", "matvec", "matvec_packed").contains(j.get("floor_method").getAsString()),
                "floor_method " + j.get("floor_method"));
        assertTrue(j.get("cores").getAsInt() >= 1);
        assertEquals(System.getProperty("os.arch"), j.get("os_arch").getAsString());
        assertEquals(System.getProperty("java.version"), j.get("java_version").getAsString());

        // The ratios are the figures they are stated from.
        double ort = j.get("ort_decode_ms_per_token").getAsDouble();
        assertEquals(ort / j.get("floor_ms_per_token").getAsDouble(), j.get("ort_vs_floor").getAsDouble(), 1e-3 * (1 + ort));
        assertEquals(j.get("torch_decode_ms_per_token").getAsDouble() / ort,
                j.get("ort_vs_torch_decode_ratio").getAsDouble(), 1e-2 * j.get("ort_vs_torch_decode_ratio").getAsDouble());

        assertTrue(o.stderr().contains("bandwidth floor"), "the table goes to stderr: " + o.stderr());
        assertEquals(tempBefore, benchTempFolders(), "the temporary export is deleted");
    }

    static List<String> benchTempFolders() {
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("stepwise-bench-")).sorted().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void promptPlusNewTokensBeyondThePositionsIsAnError() {
        Path checkpoint = tmp.resolve("gpt2-tiny");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);

        Outcome o = bench("--model", checkpoint.toString(), "--prompt-length", "120", "--new-tokens", "20");

        assertEquals(1, o.status(), o.stderr());
        assertTrue(o.stderr().contains("exceed the model's 128 positions"), o.stderr());
        assertTrue(Files.exists(checkpoint));
    }

    @Test
    void badFlagIsUsageError() {
        Outcome o = bench("--model", tmp.toString(), "--new-tokens", "1");

        assertEquals(2, o.status(), o.stderr());
        assertTrue(o.stderr().contains("new tokens must be at least 2"), o.stderr());
    }

    @Test
    void quantizedFormsAreTimedWithTheirOwnFloor() {
        Path checkpoint = tmp.resolve("gpt2-tiny-q");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);
        Outcome o = bench("--model", checkpoint.toString(), "--prompt-length", "8", "--new-tokens", "4",
                "--threads", "1", "--warmup", "0", "--runs", "1", "--quantize", "int8,int4", "--json");
        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        JsonObject j = JsonParser.parseString(o.stdout().strip()).getAsJsonObject();
        com.google.gson.JsonArray q = j.getAsJsonArray("quantized");
        assertEquals(2, q.size(), j.toString());
        long fp32 = j.get("weight_bytes").getAsLong();
        for (int i = 0; i < 2; i++) {
            JsonObject r = q.get(i).getAsJsonObject();
            assertEquals(i == 0 ? "int8" : "int4", r.get("mode").getAsString());
            assertTrue(r.get("weight_bytes").getAsLong() < fp32, r.toString());
            assertTrue(r.get("decode_step_bytes").getAsLong() <= r.get("weight_bytes").getAsLong(), r.toString());
            assertTrue(r.get("decode_ms_per_token").getAsDouble() > 0, r.toString());
            assertEquals(r.get("decode_ms_per_token").getAsDouble() / r.get("floor_ms_per_token").getAsDouble(),
                    r.get("vs_floor").getAsDouble(), 1e-3 * (1 + r.get("vs_floor").getAsDouble()));
        }
        assertTrue(o.stderr().contains("ONNX Runtime int4"), o.stderr());
        assertEquals(2, bench("--model", checkpoint.toString(), "--quantize", "int3").status(), "unknown mode");
    }

    @Test
    void existingFoldersAreTimedInOneRunAgainstTheFirst() {
        Path checkpoint = tmp.resolve("gpt2-tiny-f");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);
        Path fp32 = dev.stepwise.runtime.export.Exporter.export(checkpoint, tmp.resolve("fp32"),
                dev.stepwise.runtime.export.ExportOptions.defaults()).outputDir();
        Path int4 = dev.stepwise.runtime.quantize.Quantizer.quantize(fp32, tmp.resolve("int4"),
                dev.stepwise.runtime.quantize.QuantizeOptions.defaults(dev.stepwise.runtime.quantize.QuantizeMode.INT4)
                        .withGate(false)).outputDir();

        Outcome o = bench("--folders", fp32 + "," + int4, "--prompt-length", "8", "--new-tokens", "4", "--threads",
                "1", "--warmup", "0", "--runs", "1", "--json");

        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        JsonObject j = JsonParser.parseString(o.stdout().strip()).getAsJsonObject();
        com.google.gson.JsonArray rows = j.getAsJsonArray("folders");
        assertEquals(2, rows.size(), j.toString());
        for (int i = 0; i < 2; i++) {
            JsonObject r = rows.get(i).getAsJsonObject();
            assertEquals((i == 0 ? fp32 : int4).toString(), r.get("folder").getAsString());
            double decode = r.get("decode_ms_per_token").getAsDouble();
            double floor = r.get("floor_ms_per_token").getAsDouble();
            assertTrue(decode > 0 && floor > 0, r.toString());
            assertEquals(decode / floor, r.get("vs_floor").getAsDouble(), 1e-3 * (1 + decode / floor), r.toString());
        }
        assertEquals(1.0, rows.get(0).getAsJsonObject().get("vs_first").getAsDouble(), 1e-9, "the first is the reference");
        assertTrue(rows.get(1).getAsJsonObject().get("decode_step_bytes").getAsLong()
                < rows.get(0).getAsJsonObject().get("decode_step_bytes").getAsLong(), "int4 reads fewer bytes: " + j);
        assertTrue(o.stderr().contains("bench --folders: batch 1, prompt 8, 4 new tokens"), o.stderr());

        Outcome notAnExport = bench("--folders", checkpoint.toString());
        assertEquals(1, notAnExport.status(), notAnExport.stderr());
        assertTrue(notAnExport.stderr().contains(checkpoint + ": not an export folder (no model.onnx)"),
                notAnExport.stderr());
        assertEquals(2, bench("--prompt-length", "8").status(), "neither --model nor --folders");
    }
}
