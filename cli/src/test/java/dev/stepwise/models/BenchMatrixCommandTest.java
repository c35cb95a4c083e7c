package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stepwise bench --matrix} end to end on tiny random checkpoints with small grids: every cell and every
 * target line printed, the JSON's keys and ratios, impossible cells and the fused variant on a non-LLaMA model
 * skipped with a reason, bad grid values refused as usage errors. Nothing here is timed.
 */
class BenchMatrixCommandTest {
    @TempDir
    Path tmp;

    private final BenchCommandTest bench = new BenchCommandTest();

    @Test
    void llamaGridPrintsEveryCellAndTargetAndParsesAsJson() {
        Path checkpoint = tmp.resolve("llama-tiny");
        RandomCheckpoint.write("llama", "tiny", checkpoint, 7); // 256 positions
        List<String> tempBefore = BenchCommandTest.benchTempFolders();

        BenchCommandTest.Outcome o = bench.bench("--model", checkpoint.toString(), "--matrix", "--variants",
                "plain,ort,ort-kv", "--precisions", "fp32,int4", "--batches", "1,2", "--pasts", "32,254", "--prefills", "16",
                "--decode-steps", "2", "--threads", "1", "--warmup", "0", "--runs", "1", "--json");

        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        List<String> lines = o.stdout().strip().lines().toList();
        assertEquals(1, lines.size(), "stdout holds exactly one JSON object, got: " + o.stdout());
        JsonObject j = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        for (String key : List.of("model_type", "weight_bytes", "threads", "decode_steps", "floor_alone_gb_per_s", "grid",
                "skipped_variants", "cells", "targets", "cpu_model", "load_average_before")) {
            assertTrue(j.has(key), "missing " + key + " in " + j);
        }
        assertEquals(0, j.getAsJsonObject("skipped_variants").size(), "llama has fused ops: " + j);

        JsonArray cells = j.getAsJsonArray("cells");
        assertEquals(3 * 2 * 2 * (2 + 1), cells.size(), "variants x precisions x batches x (pasts + prefills)");
        int skipped = 0;
        for (JsonElement e : cells) {
            JsonObject c = e.getAsJsonObject();
            if (c.has("skipped")) {
                skipped++;
                assertEquals(254, c.get("length").getAsInt(), c.toString());
                assertTrue(c.get("skipped").getAsString().contains("exceed the model's 256 positions"), c.toString());
                continue;
            }
            for (String key : List.of("ort_ms", "floor_ms", "floor_gb_per_s", "torch_ms", "vs_floor", "torch_over_ort",
                    "weight_bytes", "kv_bytes")) {
                double v = c.get(key).getAsDouble();
                assertTrue(v > 0 && Double.isFinite(v), key + " = " + v + " in " + c);
            }
            assertEquals(c.get("ort_ms").getAsDouble() / c.get("floor_ms").getAsDouble(), c.get("vs_floor").getAsDouble(),
                    1e-3 * (1 + c.get("vs_floor").getAsDouble()), "vs_floor is ORT ms over floor ms: " + c);
            if (c.get("precision").getAsString().equals("int4")) {
                assertTrue(c.get("weight_bytes").getAsLong() < j.get("weight_bytes").getAsLong(), c.toString());
            }
        }
        assertEquals(3 * 2 * 2, skipped, "past 254 + 3 tokens exceeds 256 positions in every variant, precision, batch");
        // The KV bytes grow with batch and past: batch 2 reads twice batch 1's cache at the same past.
        assertEquals(2 * kvBytes(cells, 1, 32), kvBytes(cells, 2, 32), "kv_bytes at batch 2 vs batch 1, past 32");

        JsonArray targets = j.getAsJsonArray("targets");
        // fp32 and int4 each: one past-32 floor line (batch 1), then per batch a growth and a prefill line.
        assertEquals(3 * 2 * (1 + 2 * 2), targets.size(), targets.toString());
        Set<String> statuses = targets.asList().stream().map(t -> t.getAsJsonObject().get("status").getAsString())
                .collect(Collectors.toSet());
        assertTrue(Set.of("met", "not met", "not measured").containsAll(statuses), statuses.toString());
        for (JsonElement e : targets) {
            JsonObject t = e.getAsJsonObject();
            boolean floorTarget = t.get("target").getAsString().contains("past 32 <=");
            // Only the past-32 floor lines have their cells here; past 2048 and prefill 1024 are not in the grid.
            assertEquals(floorTarget, t.has("value"), t.toString());
            if (floorTarget) {
                double v = t.get("value").getAsDouble();
                assertEquals(v <= 1.10 ? "met" : "not met", t.get("status").getAsString(), t.toString());
            } else {
                assertTrue(t.get("missing").getAsString().contains("not in the grid"), t.toString());
            }
        }

        String table = o.stderr();
        for (String variant : List.of("plain", "ort", "ort-kv")) {
            for (String precision : List.of("fp32", "int4")) {
                for (int batch : List.of(1, 2)) {
                    for (String cell : List.of("decode@32", "decode@254", "prefill 16")) {
                        String row = String.format("  %-7s %-5s %5d %-13s", variant, precision, batch, cell);
                        assertTrue(table.contains(row), "table row '" + row + "' in:\n" + table);
                    }
                }
            }
        }
        // the table lists the targets this grid can evaluate; those needing cells outside it are counted in one line
        long outsideGrid = targets.asList().stream().map(JsonElement::getAsJsonObject)
                .filter(t -> t.has("missing") && t.get("missing").getAsString().endsWith("is not in the grid)")).count();
        assertTrue(outsideGrid > 0, "past 2048 and prefill 1024 are not in this grid: " + targets);
        assertEquals(targets.size() - outsideGrid, table.lines()
                .filter(l -> l.matches("  \\[(met|not met|not measured)\\] .*")).count(), "one line per target:\n" + table);
        assertTrue(table.contains("  (" + outsideGrid + " more need cells this grid does not have; --json lists them)"),
                table);
        assertFalse(table.contains("decode at past 2048 <= 1.25x past 32"), table);
        assertEquals(tempBefore, BenchCommandTest.benchTempFolders(), "the temporary exports are deleted");
    }

    private static long kvBytes(JsonArray cells, int batch, int past) {
        return cells.asList().stream().map(JsonElement::getAsJsonObject)
                .filter(c -> c.get("variant").getAsString().equals("plain") && c.get("precision").getAsString().equals("fp32")
                        && c.get("batch").getAsInt() == batch && c.get("kind").getAsString().equals("decode")
                        && c.get("length").getAsInt() == past)
                .findFirst().orElseThrow().get("kv_bytes").getAsLong();
    }

    @Test
    void fusedVariantsOfAnArchitectureWithoutFusedLayersAreSkippedWithTheReason() throws Exception {
        // a user's architecture whose forward writes its own attention (no Ops.causalAttention)
        Path checkpoint = UserArchitectureTest.ToyCheckpoint.write(tmp.resolve("toy"));

        BenchCommandTest.Outcome o = bench.bench("--model", checkpoint.toString(), "--matrix", "--precisions", "fp32",
                "--batches", "1", "--pasts", "8", "--prefills", "8", "--decode-steps", "1", "--threads", "1",
                "--warmup", "0", "--runs", "1", "--json");

        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        JsonObject j = JsonParser.parseString(o.stdout().strip()).getAsJsonObject();
        JsonObject skipped = j.getAsJsonObject("skipped_variants");
        assertEquals(Set.of("ort", "ort-kv"), skipped.keySet(), j.toString());
        String why = skipped.get("ort").getAsString();
        assertTrue(why.contains("--optimize ort") && why.contains("toy_attention"), why);
        assertEquals(2, j.getAsJsonArray("cells").size(), "plain fp32 decode@8 and prefill 8 only: " + j);
        assertTrue(o.stderr().contains("  ort     skipped: " + why), o.stderr());
        assertFalse(o.stderr().contains(" ort fp32 batch"), "no targets for a skipped variant:\n" + o.stderr());
    }

    @Test
    void gpt2RunsEveryVariantTheInPlaceCacheIncluded() {
        Path checkpoint = tmp.resolve("gpt2-tiny");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);

        BenchCommandTest.Outcome o = bench.bench("--model", checkpoint.toString(), "--matrix", "--precisions", "fp32",
                "--batches", "1", "--pasts", "8", "--prefills", "8", "--decode-steps", "1", "--threads", "1",
                "--warmup", "0", "--runs", "1", "--json");

        assertEquals(0, o.status(), "exit status; stderr: " + o.stderr());
        JsonObject j = JsonParser.parseString(o.stdout().strip()).getAsJsonObject();
        assertEquals(0, j.getAsJsonObject("skipped_variants").size(), "gpt2 has every variant: " + j);
        JsonArray cells = j.getAsJsonArray("cells");
        assertEquals(3 * 2, cells.size(), "plain, ort and ort-kv, decode@8 and prefill 8: " + j);
        for (JsonElement c : cells) {
            assertFalse(c.getAsJsonObject().has("skipped"), c.toString());
        }
    }

    @Test
    void badGridValuesAreUsageErrors() {
        for (List<String> flags : List.of(List.of("--pasts", "32,x"), List.of("--batches", "0"),
                List.of("--variants", "plain,fast"), List.of("--precisions", "fp64"), List.of("--prefills", ""),
                List.of("--decode-steps", "0"))) {
            String[] args = Stream.concat(Stream.of("--model", tmp.toString(), "--matrix"),
                    flags.stream()).toArray(String[]::new);
            BenchCommandTest.Outcome o = bench.bench(args);
            assertEquals(2, o.status(), flags + ": " + o.stderr());
            assertTrue(o.stderr().contains(flags.get(0)), flags + " names the flag: " + o.stderr());
        }
    }
}
