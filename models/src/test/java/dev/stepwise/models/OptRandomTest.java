package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.export.ExportResult;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * OPT's tiny presets, pre-LayerNorm ({@code tiny}) and 350m-style post-LayerNorm with {@code word_embed_proj_dim}
 * narrower than the hidden size ({@code tiny-350m-style}): export validated against the PyTorch-engine reference,
 * padded batches generating each row's own tokens, positions following the attention mask.
 */
class OptRandomTest {
    static final int VOCAB = 1000;

    @TempDir
    static Path tmp;
    static final Map<String, ExportResult> EXPORTS = new HashMap<>();

    static synchronized ExportResult export(String preset) {
        return EXPORTS.computeIfAbsent(preset, p -> OptExporter.run(
                ExportChecks.randomCheckpoint(tmp.resolve("opt-" + p), "opt", p), tmp.resolve("opt-" + p + "-onnx")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-350m-style"})
    void exportValidatesAgainstPyTorchReference(String preset) {
        ExportChecks.assertValidated("opt/" + preset, export(preset), 3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-350m-style"})
    void paddedBatchGivesEachRowsOwnTokens(String preset) {
        List<long[]> prompts = List.of(new long[] {2, 17, 300, 42, 8, 99, 640, 5, 77, 13}, new long[] {2, 8, 15},
                new long[] {2, 23, 42, 108, 7, 500});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(export(preset).outputDir(), prompts, 12);
    }

    /**
     * Positions come from the attention mask, as OPTLearnedPositionalEmbedding computes them: a left-padded row's
     * real slots get the logits of the row alone, and the {@code position_ids} input does not change them.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-350m-style"})
    void positionsFollowTheAttentionMask(String preset) {
        Path onnx = export(preset).outputDir();
        OptExporter arch = new OptExporter();
        long[] row = {2, 31, 415, 92, 65};
        float[] alone = ExportChecks.prefillLogits(onnx, arch, new long[][] {row}, new long[][] {{1, 1, 1, 1, 1}},
                new long[][] {{0, 1, 2, 3, 4}});
        long[][] ids = {{7, 8, 2, 31, 415, 92, 65}, {1, 1, 2, 31, 415, 92, 65}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1, 1}};
        float[] padded = ExportChecks.prefillLogits(onnx, arch, ids, mask, new long[][] {{0, 1, 2, 3, 4, 5, 6}, {1, 1, 0, 1, 2, 3, 4}});
        double diff = ExportChecks.maxAbsDiff(alone, ExportChecks.slots(padded, 7, VOCAB, 1, 2, 7));
        assertTrue(diff < 1e-5, "padded row vs row alone: " + diff);

        float[] zeroPositions = ExportChecks.prefillLogits(onnx, arch, ids, mask, new long[2][7]);
        assertTrue(ExportChecks.maxAbsDiff(padded, zeroPositions) == 0, "position_ids must not matter");
    }

    /** enable_bias=false, layer_norm_elementwise_affine=false, _remove_final_layer_norm, another activation. */
    @Test
    void configVariantsValidate(@TempDir Path dir) {
        Path ckpt = ExportChecks.randomCheckpoint(dir.resolve("variant"), "opt", "tiny");
        ExportChecks.editConfig(ckpt, c -> {
            c.addProperty("enable_bias", false);
            c.addProperty("layer_norm_elementwise_affine", false);
            c.addProperty("_remove_final_layer_norm", true);
            c.addProperty("activation_function", "gelu");
        });
        ExportChecks.assertValidated("opt/tiny variant", OptExporter.run(ckpt, dir.resolve("variant-onnx")), 3);
    }
}
