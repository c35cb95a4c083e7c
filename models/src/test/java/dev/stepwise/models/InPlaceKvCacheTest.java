package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.StepModel;
import dev.stepwise.runtime.onnx.Optimize;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --optimize ort --max-length N}: {@code stepwise.json} records the in-place cache, the export is
 * validated like the fused one, and the generator, decoding through ONNX Runtime's share-buffer GroupQueryAttention
 * into one preallocated buffer per layer (rows reordered in place for beam search), produces the plain export's and
 * the copying fused export's tokens (greedy, 3 beams, a left-padded batch of three); a request longer than the
 * capacity is refused in one line.
 */
class InPlaceKvCacheTest {
    static final int CAPACITY = 32;

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> inPlaceCacheGeneratesThePlainAndFusedExportsTokens() {
        Stream<DynamicTest> fixtures = Stream.of("llama-tiny-random-fp16", "pylm-llama-trained", "gpt2-tiny-random")
                .map(label -> DynamicTest.dynamicTest(label, () -> check(label, Fixtures.path(label))));
        // GPT-Neo (a local window, unscaled scores), OPT and BioGPT: learned positions through the same GroupQueryAttention
        Stream<DynamicTest> random = Stream.of("gpt_neo", "opt", "biogpt").map(arch -> DynamicTest.dynamicTest(arch + " tiny",
                () -> check(arch + "-tiny", random(arch))));
        return Stream.concat(fixtures, random);
    }

    private static Path random(String arch) {
        Path dir = tmp.resolve(arch + "-checkpoint");
        RandomCheckpoint.write(arch, "tiny", dir, 11);
        return dir;
    }

    private static void check(String label, Path checkpoint) {
        ExportResult plain = Exporter.export(checkpoint, tmp.resolve(label + "-plain"), ExportOptions.defaults());
        ExportOptions ort = ExportOptions.defaults().withOptimize(Optimize.ORT);
        ExportResult fused = Exporter.export(checkpoint, tmp.resolve(label + "-ort"), ort);
        ExportResult inPlace = Exporter.export(checkpoint, tmp.resolve(label + "-inplace"),
                ort.withMaxLength(CAPACITY));
        ExportChecks.assertValidated(label + " --max-length", inPlace, 3);
        assertEquals(CAPACITY, Exporter.kvCacheCapacity(inPlace.outputDir()), "stepwise.json records kv_cache");
        assertEquals(0, Exporter.kvCacheCapacity(fused.outputDir()));

        try (ExportedModel p = ExportedModel.open(plain.outputDir(), 1);
             ExportedModel f = ExportedModel.open(fused.outputDir(), 1);
             ExportedModel i = ExportedModel.open(inPlace.outputDir(), 1)) {
            assertEquals(CAPACITY, i.kvCacheCapacity());
            double diff = maxLogitsDiff(f, i, 12);
            System.out.printf("%s: in-place vs copying fused, logits of every row over prefill and 12 steps: max abs"
                    + " diff %.2e%n", label, diff);
            assertTrue(diff <= 1e-5, label + ": in-place logits differ from the copying fused export's by " + diff
                    + " > 1e-5");
            LastLogitsOnlyTest.assertSameTokens(label + " in-place vs plain", p, i, 10, 8);
            LastLogitsOnlyTest.assertSameTokens(label + " in-place vs copying fused", f, i, 10, 8);

            int tooMany = CAPACITY - 7 + 1;   // the longest prompt has 7 tokens
            StepwiseException e = assertThrows(StepwiseException.class,
                    () -> new Generator(i).greedy(LastLogitsOnlyTest.PROMPTS, tooMany));
            assertEquals("max_new_tokens " + tooMany + " is not supported by the in-place KV cache engine: a prompt of"
                    + " 7 tokens plus " + tooMany + " new ones needs 33 positions, more than the 32 this folder was"
                    + " exported with (export --max-length 32)", e.getMessage());
        }
    }

    /**
     * Max abs difference of every row's next-token logits, after the prefill of the left-padded prompts and after each
     * of {@code steps} fed tokens (the same token ids on both).
     */
    private static double maxLogitsDiff(ExportedModel expected, ExportedModel actual, int steps) {
        double max = 0;
        try (StepModel a = expected.start(LastLogitsOnlyTest.PROMPTS, expected.padId(), false);
             StepModel b = actual.start(LastLogitsOnlyTest.PROMPTS, actual.padId(), false)) {
            for (int s = 0; s <= steps; s++) {
                long[] next = new long[a.rows()];
                for (int r = 0; r < a.rows(); r++) {
                    float[] x = a.logits(r);
                    float[] y = b.logits(r);
                    for (int v = 0; v < x.length; v++) {
                        max = Math.max(max, Math.abs(x[v] - y[v]));
                    }
                    next[r] = 3 + 7L * s + r;
                }
                if (s < steps) {
                    a.step(next);
                    b.step(next);
                }
            }
        }
        return max;
    }

    @Test
    void maxLengthNeedsTheFusedGraph() {
        StepwiseException e = assertThrows(StepwiseException.class, () -> Exporter.export(
                Fixtures.path("llama-tiny-random-fp16"), tmp.resolve("plain-max"),
                ExportOptions.defaults().withMaxLength(64)));
        assertEquals("--max-length 64: a preallocated in-place KV cache needs --optimize ort (GroupQueryAttention's"
                + " share-buffer mode); the standard-op graph copies its cache", e.getMessage());
        assertFalse(Files.exists(tmp.resolve("plain-max")), "nothing written for a refused export");
    }
}
