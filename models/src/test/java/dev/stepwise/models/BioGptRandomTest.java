package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.export.ExportResult;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BioGPT's tiny preset: export validated against the PyTorch-engine reference, padded batches generating each row's
 * own tokens, positions following the attention mask.
 */
class BioGptRandomTest {
    static final int VOCAB = 1000;

    @TempDir
    static Path tmp;
    static Path checkpoint;
    static ExportResult export;

    @BeforeAll
    static void exportTiny() {
        checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("biogpt-tiny"), "biogpt", "tiny");
        export = BioGptExporter.run(checkpoint, tmp.resolve("biogpt-tiny-onnx"));
    }

    @Test
    void exportValidatesAgainstPyTorchReference() {
        ExportChecks.assertValidated("biogpt/tiny", export, 3);
    }

    @Test
    void paddedBatchGivesEachRowsOwnTokens() {
        List<long[]> prompts = List.of(new long[] {2, 17, 300, 42, 8, 99, 640, 5, 77, 13}, new long[] {2, 8, 15},
                new long[] {2, 23, 42, 108, 7, 500});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(export.outputDir(), prompts, 12);
    }

    @Test
    void positionsFollowTheAttentionMask() {
        BioGptExporter arch = new BioGptExporter();
        long[] row = {2, 31, 415, 92, 65};
        float[] alone = ExportChecks.prefillLogits(export.outputDir(), arch, new long[][] {row},
                new long[][] {{1, 1, 1, 1, 1}}, new long[][] {{0, 1, 2, 3, 4}});
        long[][] ids = {{7, 8, 2, 31, 415, 92, 65}, {1, 1, 2, 31, 415, 92, 65}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1, 1}};
        float[] padded = ExportChecks.prefillLogits(export.outputDir(), arch, ids, mask,
                new long[][] {{0, 1, 2, 3, 4, 5, 6}, {1, 1, 0, 1, 2, 3, 4}});
        double diff = ExportChecks.maxAbsDiff(alone, ExportChecks.slots(padded, 7, VOCAB, 1, 2, 7));
        assertTrue(diff < 1e-5, "padded row vs row alone: " + diff);
    }

    @Test
    void unscaledEmbeddingsValidate(@TempDir Path dir) {
        Path ckpt = ExportChecks.randomCheckpoint(dir.resolve("unscaled"), "biogpt", "tiny");
        ExportChecks.editConfig(ckpt, c -> c.addProperty("scale_embedding", false));
        ExportChecks.assertValidated("biogpt/tiny scale_embedding=false", BioGptExporter.run(ckpt, dir.resolve("onnx")), 3);
    }
}
