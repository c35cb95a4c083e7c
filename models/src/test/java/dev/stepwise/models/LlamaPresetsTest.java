package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ReferenceRunner;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.export.Validator;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random LLaMA and Mistral checkpoints of every tiny preset export and validate against the PyTorch-engine reference
 * (prefill, decode, padded batches); padded batches generate each row's own tokens; and what the presets exist for
 * (rope scaling, grouped-query cache, tied head, sliding window) visibly changes the model.
 */
class LlamaPresetsTest {
    private static final long SEED = 11;
    private static final List<long[]> PROMPTS = List.of(new long[] {5, 17, 300, 2, 999, 41, 0, 7},
            new long[] {4, 8, 15}, new long[] {16, 23, 42, 108, 7}, new long[] {0});

    @TempDir
    static Path tmp;
    private static final Map<String, ExportResult> EXPORTS = new HashMap<>();

    /** Writes and exports {@code arch/preset} once per test class. */
    static synchronized ExportResult exported(String arch, String preset) {
        return EXPORTS.computeIfAbsent(arch + "/" + preset, k -> {
            Path checkpoint = checkpoint(arch, preset);
            Path out = tmp.resolve("onnx-" + arch + "-" + preset);
            return arch.equals("mistral") ? MistralExporter.run(checkpoint, out) : LlamaExporter.run(checkpoint, out);
        });
    }

    static Path checkpoint(String arch, String preset) {
        Path dir = tmp.resolve(arch + "-" + preset);
        if (!java.nio.file.Files.isDirectory(dir)) {
            RandomCheckpoint.write(arch, preset, dir, SEED);
        }
        return dir;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama/tiny", "llama/tiny-gqa", "llama/tiny-tied-bias", "llama/tiny-linear",
        "llama/tiny-dynamic", "llama/tiny-llama3", "mistral/tiny"})
    void exportValidatesAgainstPyTorchReference(String archPreset) {
        String[] p = archPreset.split("/");
        ExportResult export = exported(p[0], p[1]);
        assertEquals(3, export.validation().size(), "prefill, past + new tokens, decode");
        for (ValidationCase c : export.validation()) {
            System.out.printf("%s [%s] worst max abs diff %.3g%n", archPreset, c.name(), c.worst());
            assertTrue(c.passed(), archPreset + " " + c.name() + ": " + c.maxAbsDiff());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama/tiny-gqa", "llama/tiny-tied-bias", "llama/tiny-llama3", "mistral/tiny"})
    void paddedBatchGivesEachRowsOwnTokens(String archPreset) {
        String[] p = archPreset.split("/");
        try (ExportedModel model = ExportedModel.open(exported(p[0], p[1]).outputDir(), 1)) {
            Generator generator = new Generator(model);
            List<long[]> batch = generator.greedy(PROMPTS, 12);
            for (int r = 0; r < PROMPTS.size(); r++) {
                assertArrayEquals(generator.greedy(List.of(PROMPTS.get(r)), 12).get(0), batch.get(r),
                        archPreset + " row " + r);
            }
        }
    }

    @Test
    void groupedQueryCacheHoldsKeyValueHeadsOnly() throws Exception {
        ExportResult export = exported("llama", "tiny-gqa");               // 8 query heads, 2 KV heads of 8
        try (OrtSession session = OrtSessions.open(export.modelFile(), 1)) {
            for (String name : List.of("past_key_values.0.key", "past_key_values.1.value")) {
                long[] shape = ((TensorInfo) session.getInputInfo().get(name).getInfo()).getShape();
                assertArrayEquals(new long[] {-1, 2, -1, 8}, shape, name);
            }
            long[] present = ((TensorInfo) session.getOutputInfo().get("present.0.key").getInfo()).getShape();
            assertArrayEquals(new long[] {-1, 2, -1, 8}, present);
        }
    }

    @Test
    void tiedHeadReadsTheEmbeddingAndHeadDimMayDifferFromHiddenOverHeads() {
        ExportResult export = exported("llama", "tiny-tied-bias");          // 4 heads of 32 over hidden 64
        OnnxModelReader model = OnnxModelReader.load(export.modelFile());
        long embeddings = 0;
        for (TensorProto t : model.initializers()) {
            assertFalse(t.getName().contains("lm_head"), t.getName());
            embeddings += t.getName().startsWith("model.embed_tokens") ? 1 : 0;
            if (t.getName().startsWith("model.layers.0.self_attn.q_proj.weight")) {
                assertEquals(List.of(64L, 128L), t.getDimsList(), "q_proj stored transposed, [hidden, heads * head_dim]");
            }
        }
        assertEquals(1, embeddings, "one copy of the embedding serves the lookup and the LM head");
    }

    @Test
    void textGenerationTaskWithoutPastExportsAndValidates() {
        Path checkpoint = checkpoint("llama", "tiny-gqa");
        ExportResult export = LlamaExporter.run(checkpoint, tmp.resolve("onnx-no-past"),
                ExportOptions.defaults().withTask(Task.TEXT_GENERATION));
        assertTrue(export.validation().stream().allMatch(ValidationCase::passed), export.validation().toString());
    }

    /**
     * Dynamic NTK scaling starts only beyond max_position_embeddings (32 in this preset), where the Validator's cases
     * never go: compare the dynamic graph with the reference at total lengths 40 and 48, prefill and decode.
     */
    @Test
    void dynamicScalingBeyondMaxPositionsMatchesReference() throws Exception {
        ExportResult export = exported("llama", "tiny-dynamic");
        int[][] cases = {{2, 40, 0}, {2, 16, 24}, {2, 1, 47}};             // batch, new tokens, past
        compareBeyondValidator(new LlamaExporter(), checkpoint("llama", "tiny-dynamic"), export, cases,
                json -> json.add("rope_scaling", JsonNull.INSTANCE));
    }

    @Test
    void llama3AndLinearScalingChangeTheModel() throws Exception {
        int[][] cases = {{2, 24, 0}, {2, 1, 31}};
        compareBeyondValidator(new LlamaExporter(), checkpoint("llama", "tiny-llama3"), exported("llama", "tiny-llama3"),
                cases, json -> json.add("rope_scaling", JsonNull.INSTANCE));
        compareBeyondValidator(new LlamaExporter(), checkpoint("llama", "tiny-linear"), exported("llama", "tiny-linear"),
                cases, json -> json.add("rope_scaling", JsonNull.INSTANCE));
    }

    @Test
    void slidingWindowChangesMistralBeyondTheWindow() throws Exception {
        int[][] cases = {{2, 20, 0}, {2, 1, 19}};                          // window 8
        compareBeyondValidator(new MistralExporter(), checkpoint("mistral", "tiny"), exported("mistral", "tiny"), cases,
                json -> json.add("sliding_window", JsonNull.INSTANCE));
    }

    /**
     * Runs the exported graph and the reference on extra cases and requires them to agree within the export's
     * tolerance; then requires the reference for the config as {@code plain} rewrites it to differ by far more (100 ×
     * the tolerance, in logits or cached keys), so the feature under test is in effect.
     */
    private static void compareBeyondValidator(Architecture architecture, Path checkpointDir, ExportResult export,
                                               int[][] cases, Consumer<JsonObject> plain) throws Exception {
        double atol = architecture.spec().atol();
        Path configFile = checkpointDir.resolve("config.json");
        ModelConfig config = ModelConfig.read(configFile, architecture.spec().configKeys());
        JsonObject plainJson = config.json().deepCopy();
        plain.accept(plainJson);
        ModelConfig plainConfig = ModelConfig.of(configFile, plainJson, architecture.spec().configKeys());
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir);
             OrtSession session = OrtSessions.open(export.modelFile(), 1);
             ReferenceRunner reference = new ReferenceRunner(architecture, config, checkpoint);
             ReferenceRunner plainReference = new ReferenceRunner(architecture, plainConfig, checkpoint)) {
            for (int[] c : cases) {
                String name = c[0] + " rows, " + c[1] + " new after " + c[2];
                DummyInputs in = architecture.dummyInputs(config, c[0], c[1], c[2], 99);
                Map<String, HostTensor> onnx = Validator.runOrt(session, architecture, in);
                Map<String, HostTensor> expected = reference.run(in, Task.TEXT_GENERATION_WITH_PAST);
                for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
                    double diff = maxAbsDiff(e.getValue(), onnx.get(e.getKey()));
                    assertTrue(diff <= atol, name + ": " + e.getKey() + " max abs diff " + diff + " > " + atol);
                }
                // Rotary changes show first in the cached (rotated) keys, a window first in the logits.
                Map<String, HostTensor> plainOut = plainReference.run(in, Task.TEXT_GENERATION_WITH_PAST);
                double effect = 0;
                for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
                    effect = Math.max(effect, maxAbsDiff(e.getValue(), plainOut.get(e.getKey())));
                }
                System.out.printf("%s %s: graph vs reference within %.1g; the feature changes outputs by %.3g%n",
                        checkpointDir.getFileName(), name, atol, effect);
                assertTrue(effect > 100 * atol, name + ": the feature changes outputs by only " + effect);
            }
        }
    }

    private static double maxAbsDiff(HostTensor a, HostTensor b) {
        assertArrayEquals(a.shape(), b.shape());
        double worst = 0;
        for (int i = 0; i < a.floats().length; i++) {
            worst = Math.max(worst, Math.abs((double) a.floats()[i] - b.floats()[i]));
        }
        return worst;
    }
}
