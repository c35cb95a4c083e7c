package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code random-checkpoint} end to end on GPT-2 (moved here from the runtime's tests: the runtime alone has no
 * architecture to write, since presets and tensors come from the model classes).
 */
class RandomCheckpointTest {
    /** GPT-2's tensors, listed independently of {@link Gpt2} (the runtime's CheckpointTest keeps the same list). */
    static List<WeightSpec> gpt2Specs(long vocab, long embd, long positions, int layers) {
        List<WeightSpec> specs = new ArrayList<>();
        specs.add(WeightSpec.required("transformer.wte.weight", vocab, embd));
        specs.add(WeightSpec.required("transformer.wpe.weight", positions, embd));
        for (int i = 0; i < layers; i++) {
            String h = "transformer.h." + i + ".";
            specs.add(WeightSpec.required(h + "ln_1.weight", embd));
            specs.add(WeightSpec.required(h + "ln_1.bias", embd));
            specs.add(WeightSpec.required(h + "attn.c_attn.weight", embd, 3 * embd));
            specs.add(WeightSpec.required(h + "attn.c_attn.bias", 3 * embd));
            specs.add(WeightSpec.required(h + "attn.c_proj.weight", embd, embd));
            specs.add(WeightSpec.required(h + "attn.c_proj.bias", embd));
            specs.add(WeightSpec.required(h + "ln_2.weight", embd));
            specs.add(WeightSpec.required(h + "ln_2.bias", embd));
            specs.add(WeightSpec.required(h + "mlp.c_fc.weight", embd, 4 * embd));
            specs.add(WeightSpec.required(h + "mlp.c_fc.bias", 4 * embd));
            specs.add(WeightSpec.required(h + "mlp.c_proj.weight", 4 * embd, embd));
            specs.add(WeightSpec.required(h + "mlp.c_proj.bias", embd));
        }
        specs.add(WeightSpec.required("transformer.ln_f.weight", embd));
        specs.add(WeightSpec.required("transformer.ln_f.bias", embd));
        specs.add(WeightSpec.optional("lm_head.weight", vocab, embd));
        return specs;
    }

    @TempDir
    Path dir;

    @Test
    void tinyGpt2RoundTrip() throws IOException {
        Path out = dir.resolve("tiny");
        AtomicLong progressed = new AtomicLong();
        RandomCheckpoint.write("gpt2", "tiny", out, 42, new ProgressListener() {
            @Override
            public void stage(String name, long totalUnits) {
            }

            @Override
            public void advance(long units) {
                progressed.addAndGet(units);
            }
        });

        JsonObject config = ModelConfig.readJson(out.resolve("config.json"));
        assertEquals("gpt2", config.get("model_type").getAsString());
        assertEquals("GPT2LMHeadModel", config.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals(1000, config.get("vocab_size").getAsInt());
        assertEquals(64, config.get("n_embd").getAsInt());
        assertEquals(2, config.get("n_layer").getAsInt());
        assertEquals(4, config.get("n_head").getAsInt());
        assertEquals(128, config.get("n_positions").getAsInt());
        assertEquals(128, config.get("n_ctx").getAsInt());
        assertTrue(config.get("n_inner").isJsonNull(), "n_inner is written as null, as transformers saves it");
        assertEquals("gelu_new", config.get("activation_function").getAsString());
        assertEquals(1e-5, config.get("layer_norm_epsilon").getAsDouble());
        assertEquals(999, config.get("bos_token_id").getAsInt());
        assertEquals(999, config.get("eos_token_id").getAsInt());
        assertTrue(config.get("tie_word_embeddings").getAsBoolean());
        assertTrue(config.get("scale_attn_weights").getAsBoolean());
        assertFalse(config.get("scale_attn_by_inverse_layer_idx").getAsBoolean());
        assertFalse(config.get("reorder_and_upcast_attn").getAsBoolean());
        assertEquals("float32", config.get("torch_dtype").getAsString());
        assertEquals(999, ModelConfig.readJson(out.resolve("generation_config.json")).get("eos_token_id").getAsInt());

        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(4 + 2 * 12, c.names().size());
            assertFalse(c.has("lm_head.weight"), "tied LM head");
            assertDoesNotThrow(() -> c.checkAgainst(gpt2Specs(1000, 64, 128, 2)));
            assertArrayEquals(new long[] {64, 256}, c.shape("transformer.h.1.mlp.c_fc.weight"));
            assertEquals(progressed.get(), c.names().stream().mapToLong(n -> c.float32(n).limit() / 4).sum());

            double[] wte = stats(c.float32("transformer.wte.weight").asFloatBuffer());
            assertEquals(0, wte[0], 0.001);
            assertEquals(0.02, wte[1], 0.001);
            double[] ln = stats(c.float32("transformer.h.0.ln_1.weight").asFloatBuffer());
            assertEquals(1, ln[0], 0.05);
            assertTrue(ln[1] > 0.05 && ln[1] < 0.15, "LayerNorm weights spread around 1: std " + ln[1]);
            double[] bias = stats(c.float32("transformer.h.1.attn.c_attn.bias").asFloatBuffer());
            assertTrue(bias[1] > 0.01, "biases are not zero");
        }
        try (Stream<Path> siblings = Files.list(dir)) {
            assertEquals(List.of(out), siblings.collect(Collectors.toList()), "no temporary folder left beside the output");
        }
        // The output gets the permissions of any new file or folder here (umask), not the owner-only ones of temp files.
        assertEquals(Files.getPosixFilePermissions(Files.createFile(dir.resolve("probe-file"))),
                Files.getPosixFilePermissions(out.resolve("model.safetensors")));
        assertEquals(Files.getPosixFilePermissions(Files.createDirectory(dir.resolve("probe-dir"))),
                Files.getPosixFilePermissions(out));
    }

    private static double[] stats(FloatBuffer values) {
        double sum = 0;
        double squares = 0;
        int n = values.remaining();
        for (int i = 0; i < n; i++) {
            sum += values.get(i);
            squares += (double) values.get(i) * values.get(i);
        }
        double mean = sum / n;
        return new double[] {mean, Math.sqrt(squares / n - mean * mean)};
    }

    @Test
    void deterministicForASeed() throws IOException {
        RandomCheckpoint.write("gpt2", "tiny", dir.resolve("a"), 7);
        RandomCheckpoint.write("gpt2", "tiny", dir.resolve("b"), 7);
        RandomCheckpoint.write("gpt2", "tiny", dir.resolve("c"), 8);
        byte[] a = Files.readAllBytes(dir.resolve("a/model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(dir.resolve("c/model.safetensors"))));
        assertEquals(Files.readString(dir.resolve("a/config.json")), Files.readString(dir.resolve("c/config.json")));
        try (Checkpoint c = Checkpoint.open(dir.resolve("a"))) {
            // Tensors draw from their own streams: two tensors of one shape differ.
            assertNotEquals(c.float32("transformer.h.0.ln_1.bias"), c.float32("transformer.h.0.ln_2.bias"));
        }
    }

    @Test
    void unknownArchOrPresetListsTheValidOnes() {
        StepwiseException arch = assertThrows(StepwiseException.class,
                () -> RandomCheckpoint.write("gpt3", "tiny", dir.resolve("x"), 1));
        assertEquals("unknown architecture 'gpt3' for a random checkpoint; valid architectures: "
                + String.join(", ", RandomCheckpoint.archs()), arch.getMessage());
        StepwiseException preset = assertThrows(StepwiseException.class,
                () -> RandomCheckpoint.write("gpt2", "huge", dir.resolve("x"), 1));
        assertEquals("unknown preset 'huge' for gpt2; valid presets: tiny, gpt2", preset.getMessage());
        assertTrue(RandomCheckpoint.archs().contains("gpt2"), RandomCheckpoint.archs().toString());
        assertEquals(List.of("tiny", "gpt2"), RandomCheckpoint.presets("gpt2"));
        assertFalse(Files.exists(dir.resolve("x")));
    }

    @Test
    void refusesToOverwriteANonEmptyFolder() throws IOException {
        Path out = Files.createDirectories(dir.resolve("taken"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        StepwiseException e = assertThrows(StepwiseException.class, () -> RandomCheckpoint.write("gpt2", "tiny", out, 1));
        assertEquals(out + ": folder exists and is not empty; refusing to overwrite it", e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
    }

    @Test
    void fillsAnExistingEmptyFolder() {
        Path out = dir.resolve("empty");
        assertDoesNotThrow(() -> Files.createDirectories(out));
        RandomCheckpoint.write("gpt2", "tiny", out, 1);
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
    }

    @Test
    void failureLeavesNothingBehind() throws IOException {
        Path out = dir.resolve("failed");
        ProgressListener failing = new ProgressListener() {
            @Override
            public void stage(String name, long totalUnits) {
            }

            @Override
            public void advance(long units) {
                throw new IllegalStateException("disk on fire");
            }
        };
        assertThrows(IllegalStateException.class, () -> RandomCheckpoint.write("gpt2", "tiny", out, 1, failing));
        assertFalse(Files.exists(out));
        try (Stream<Path> siblings = Files.list(dir)) {
            assertEquals(0, siblings.count(), "temporary folder removed");
        }
    }

    /** GPT-2 small: 124,439,808 parameters. Slow-ish (writes ~500 MB), so only with -Dstepwise.e2e=true. */
    @Test
    @EnabledIfSystemProperty(named = "stepwise.e2e", matches = "true")
    void gpt2SmallPreset() {
        Path out = dir.resolve("gpt2");
        long start = System.nanoTime();
        RandomCheckpoint.write("gpt2", "gpt2", out, 0);
        System.out.printf("gpt2 preset written in %.1f s%n", (System.nanoTime() - start) / 1e9);
        try (Checkpoint c = Checkpoint.open(out)) {
            long parameters = c.names().stream()
                    .mapToLong(n -> java.util.Arrays.stream(c.shape(n)).reduce(1, Math::multiplyExact)).sum();
            assertEquals(124_439_808L, parameters);
            c.checkAgainst(gpt2Specs(50257, 768, 1024, 12));
        }
    }
}
