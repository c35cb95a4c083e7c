package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-Neo's tiny preset (global and local layers, window 4): export validated against the PyTorch-engine reference
 * with validation lengths (16 new tokens after a past of 16) well past the window, padded batches generating each
 * row's own tokens, and the window itself holding across the KV cache.
 */
class GptNeoRandomTest {
    @TempDir
    static Path tmp;
    static Path checkpoint;
    static ExportResult export;

    @BeforeAll
    static void exportTiny() {
        checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("gpt-neo-tiny"), "gpt_neo", "tiny");
        export = GptNeoExporter.run(checkpoint, tmp.resolve("gpt-neo-tiny-onnx"));
    }

    @Test
    void exportValidatesAgainstPyTorchReference() {
        assertTrue(GptNeo.windowSize(GptNeoExporter.config(checkpoint).modelConfig()) < 16, "the window is crossed");
        ExportChecks.assertValidated("gpt_neo/tiny", export, 3);
    }

    @Test
    void exportWithoutPastAtOpset17Validates() {
        ExportResult plain = GptNeoExporter.run(checkpoint, tmp.resolve("gpt-neo-tiny-plain"),
                ExportOptions.defaults().withTask(Task.TEXT_GENERATION).withOpset(17));
        ExportChecks.assertValidated("gpt_neo/tiny text-generation opset 17", plain, 2);
    }

    @Test
    void paddedBatchGivesEachRowsOwnTokens() {
        List<long[]> prompts = List.of(new long[] {5, 17, 300, 42, 8, 99, 640, 2, 77, 13}, new long[] {4, 8, 15},
                new long[] {16, 23, 42, 108, 7, 500, 1});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(export.outputDir(), prompts, 12);
    }

    /**
     * With local layers only, the last token sees 4 layers × 3 slots back: a token 16 slots earlier cannot change its
     * logits, whether the prompt arrives in one prefill or token by token through the KV cache. With global layers
     * it does.
     */
    @Test
    void localAttentionSeesOnlyTheWindowAcrossTheCache(@TempDir Path dir) {
        Path local = ExportChecks.randomCheckpoint(dir.resolve("local"), "gpt_neo", "tiny");
        ExportChecks.editConfig(local, c -> {
            c.add("attention_layers", JsonParser.parseString("[\"local\", \"local\", \"local\", \"local\"]"));
            c.add("attention_types", JsonParser.parseString("[[[\"local\"], 4]]"));
        });
        Path localOnnx = GptNeoExporter.run(local, dir.resolve("local-onnx")).outputDir();

        long[] a = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
        long[] b = a.clone();
        b[0] = 900;
        for (int prefill : new int[] {a.length, 8, 1}) {
            double local16 = ExportChecks.maxAbsDiff(ExportChecks.lastLogits(localOnnx, a, prefill),
                    ExportChecks.lastLogits(localOnnx, b, prefill));
            assertTrue(local16 < 1e-6, "local-only model, prefill " + prefill + ": token 0 changed the last logits by " + local16);
            double global = ExportChecks.maxAbsDiff(ExportChecks.lastLogits(export.outputDir(), a, prefill),
                    ExportChecks.lastLogits(export.outputDir(), b, prefill));
            assertTrue(global > 1e-4, "global layers, prefill " + prefill + ": token 0 changed the last logits by only " + global);
        }
        // Just inside the receptive field (slot 4 of 16), the token matters to the local-only model too.
        long[] c = a.clone();
        c[a.length - 1 - 12] = 900;
        assertTrue(ExportChecks.maxAbsDiff(ExportChecks.lastLogits(localOnnx, a, 8), ExportChecks.lastLogits(localOnnx, c, 8)) > 1e-5);
    }

    @Test
    void attentionTypesExpandLikeTransformers(@TempDir Path dir) {
        Path ckpt = ExportChecks.randomCheckpoint(dir.resolve("c"), "gpt_neo", "tiny");
        ExportChecks.editConfig(ckpt, c -> {
            c.remove("attention_layers");
            c.add("attention_types", JsonParser.parseString("[[[\"global\"], 1], [[\"local\", \"global\", \"local\"], 1]]"));
        });
        assertEquals(List.of("global", "local", "global", "local"),
                GptNeo.attentionLayers(GptNeoExporter.config(ckpt).modelConfig()));

        ExportChecks.editConfig(ckpt, c -> c.add("attention_types", JsonParser.parseString("[[[\"global\", \"local\"], 3]]")));
        StepwiseException tooMany = assertThrows(StepwiseException.class, () -> GptNeoExporter.run(ckpt, dir.resolve("o")));
        assertTrue(tooMany.getMessage().contains("'attention_types' gives 6 attention layers but the model has 4 layers"),
                tooMany.getMessage());

        ExportChecks.editConfig(ckpt, c -> {
            JsonArray layers = new JsonArray();
            List.of("global", "sparse", "global", "local").forEach(layers::add);
            c.add("attention_layers", layers);
        });
        StepwiseException unknown = assertThrows(StepwiseException.class, () -> GptNeoExporter.run(ckpt, dir.resolve("o")));
        assertTrue(unknown.getMessage().contains("config.json: key 'attention_layers' holds attention type \"sparse\"; only"
                + " \"global\" and \"local\" exist"), unknown.getMessage());
    }
}
