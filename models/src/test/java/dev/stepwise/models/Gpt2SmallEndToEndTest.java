package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 small's shapes end to end (124M random parameters): export with validation, then 32 gen-step graphs sharing
 * one weights file. Slow (about a minute), so only in the e2e profile ({@code mvn verify -Pe2e}); times are printed by
 * the CLI and benchmarks, not asserted here.
 */
@EnabledIfSystemProperty(named = "stepwise.e2e", matches = "true")
class Gpt2SmallEndToEndTest {
    @TempDir
    Path tmp;

    @Test
    void exportValidatesAndUnrollsThirtyTwoSteps() throws Exception {
        Path checkpoint = tmp.resolve("gpt2-small");
        RandomCheckpoint.write("gpt2", "gpt2", checkpoint, 0);

        ExportResult export = Exporter.export(checkpoint, tmp.resolve("onnx"), ExportOptions.defaults());
        assertTrue(export.externalData(), "500 MB of weights go to model.onnx_data");
        for (ValidationCase c : export.validation()) {
            assertTrue(c.passed(), c.name() + ": " + c.maxAbsDiff());
        }

        UnrollResult unrolled = Unroller.unroll(checkpoint, tmp.resolve("steps"), UnrollOptions.of(1, 32, 32));
        assertEquals(32, unrolled.steps().size());
        unrolled.report().checks().forEach(c -> assertTrue(c.passed(), c.describe()));
        long weights = Files.size(unrolled.outputDir().resolve(Unroller.WEIGHTS_FILE));
        assertEquals(export.weightBytes(), weights, "the step graphs share one copy of the weights");
    }
}
