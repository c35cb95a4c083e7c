package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.WeightSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    private static final Path GPT2_DIR = Fixtures.path("gpt2-tiny-random");

    @TempDir
    Path dir;

    /** The GPT-2 tensors transformers expects, as an architecture would declare them. */
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

    @Test
    void opensSingleFileCheckpoint() {
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            assertEquals(64, c.names().size());
            assertEquals(SafetensorsDtype.F32, c.dtype("transformer.wte.weight"));
            assertArrayEquals(new long[] {1000, 32}, c.shape("transformer.wte.weight"));
            assertEquals((float) -0.020643139258027077, c.float32("transformer.wte.weight").getFloat(0));
            assertEquals(GPT2_DIR.toString(), c.describe());
            assertDoesNotThrow(() -> c.checkAgainst(gpt2Specs(1000, 32, 512, 5)));
        }
    }

    @Test
    void opensFp16Checkpoint() {
        try (Checkpoint c = Checkpoint.open(Fixtures.path("llama-tiny-random-fp16"))) {
            assertEquals(SafetensorsDtype.F16, c.dtype("lm_head.weight"));
            assertEquals(32000 * 16 * 4, c.float32("lm_head.weight").limit());
            assertEquals(32000 * 16 * 2, c.raw("lm_head.weight").limit());
        }
    }

    @Test
    void wrongShapeNamesFileTensorAndBothShapes() {
        List<WeightSpec> specs = gpt2Specs(1000, 32, 512, 5);
        specs.set(2 + 2, WeightSpec.required("transformer.h.0.attn.c_attn.weight", 32, 64));
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            StepwiseException e = assertThrows(StepwiseException.class, () -> c.checkAgainst(specs));
            assertEquals(GPT2_DIR.resolve("model.safetensors")
                    + ": tensor 'transformer.h.0.attn.c_attn.weight' has shape [32, 96], expected [32, 64]", e.getMessage());
        }
    }

    @Test
    void wrongShapeOfAnOptionalTensorIsAnError() {
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            StepwiseException e = assertThrows(StepwiseException.class,
                    () -> c.checkAgainst(List.of(WeightSpec.optional("transformer.wte.weight", 1000, 16))));
            assertTrue(e.getMessage().contains("'transformer.wte.weight' has shape [1000, 32], expected [1000, 16]"), e.getMessage());
        }
    }

    @Test
    void missingTensorNamesTensorAndFolder() {
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            // gpt2-tiny-random has 5 layers, so layer 5 and beyond are missing: first problem reported, rest counted.
            StepwiseException e = assertThrows(StepwiseException.class, () -> c.checkAgainst(gpt2Specs(1000, 32, 512, 6)));
            assertTrue(e.getMessage().startsWith("tensor 'transformer.h.5.ln_1.weight' (shape [32]) is missing from " + GPT2_DIR),
                    e.getMessage());
            assertTrue(e.getMessage().endsWith("(and 11 more problems)"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    @Test
    void missingOptionalTensorIsFine() {
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            assertFalse(c.has("lm_head.weight"));
            assertDoesNotThrow(() -> c.checkAgainst(List.of(WeightSpec.optional("lm_head.weight", 1000, 32))));
        }
    }

    @Test
    void missingTensorLookupNamesTheFolder() {
        try (Checkpoint c = Checkpoint.open(GPT2_DIR)) {
            StepwiseException e = assertThrows(StepwiseException.class, () -> c.float32("lm_head.weight"));
            assertEquals(GPT2_DIR + ": no tensor 'lm_head.weight'", e.getMessage());
        }
    }

    /** Two shards of two tensors each, plus the index transformers writes. */
    private void writeShardedCheckpoint(String weightMapJson) throws IOException {
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("model-00001-of-00002.safetensors"), List.of(
                new PlannedTensor("a", SafetensorsDtype.F32, 2, 2), new PlannedTensor("b", SafetensorsDtype.F16, 3)))) {
            w.write("a", new float[] {1, 2, 3, 4});
            w.write("b", new float[] {0.5f, -1, 65504});
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("model-00002-of-00002.safetensors"), List.of(
                new PlannedTensor("c", SafetensorsDtype.BF16, 1), new PlannedTensor("d", SafetensorsDtype.F32, 2)))) {
            w.write("c", new float[] {3});
            w.write("d", new float[] {7, 8});
        }
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE),
                "{\"metadata\": {\"total_size\": 36}, \"weight_map\": " + weightMapJson + "}");
    }

    private static final String GOOD_MAP = "{\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\","
            + " \"c\": \"model-00002-of-00002.safetensors\", \"d\": \"model-00002-of-00002.safetensors\"}";

    @Test
    void opensShardedCheckpoint() throws IOException {
        writeShardedCheckpoint(GOOD_MAP);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("a", "b", "c", "d"), new ArrayList<>(c.names()));
            assertEquals(2, c.files().size());
            assertEquals(dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), c.fileOf("d").path().toAbsolutePath());
            assertEquals(4f, c.float32("a").getFloat(12));
            assertEquals(65504f, c.float32("b").getFloat(8));
            assertEquals(SafetensorsDtype.BF16, c.dtype("c"));
            assertEquals(3f, c.float32("c").getFloat(0));
            assertEquals(8f, c.float32("d").getFloat(4));

            StepwiseException e = assertThrows(StepwiseException.class,
                    () -> c.checkAgainst(List.of(WeightSpec.required("d", 3))));
            assertEquals(c.fileOf("d").path() + ": tensor 'd' has shape [2], expected [3]", e.getMessage());
        }
    }

    @Test
    void shardedIndexNamingAMissingShard() throws IOException {
        writeShardedCheckpoint(GOOD_MAP.replace("\"d\": \"model-00002-of-00002", "\"d\": \"model-00003-of-00003"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve(Checkpoint.INDEX_FILE) + ": shard 'model-00003-of-00003.safetensors' (for tensor 'd') not found in " + dir,
                e.getMessage());
    }

    @Test
    void shardedIndexNamingATensorTheShardLacks() throws IOException {
        writeShardedCheckpoint(GOOD_MAP.replace("}", ", \"e\": \"model-00002-of-00002.safetensors\"}"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor 'e' is mapped to shard 'model-00002-of-00002.safetensors',"
                + " but that shard has no such tensor", e.getMessage());
    }

    @Test
    void shardedIndexMalformed() throws IOException {
        writeShardedCheckpoint("[]");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve(Checkpoint.INDEX_FILE) + ": expected an object with a 'weight_map'"), e.getMessage());

        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), "{\"weight_map\": {\"a\": ");
        e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve(Checkpoint.INDEX_FILE) + ": malformed JSON"), e.getMessage());
    }

    @Test
    void shardedIndexMayNotPointOutsideTheFolder() throws IOException {
        writeShardedCheckpoint("{\"a\": \"../elsewhere.safetensors\"}");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("shard '../elsewhere.safetensors' (for tensor 'a') must be a file name inside"), e.getMessage());
    }

    @Test
    void folderWithoutWeights() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir + ": no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json"
                + " found (expected a Hugging Face checkpoint folder)", e.getMessage());
    }

    @Test
    void corruptPytorchBinIsReportedByPath() throws IOException {
        Files.write(dir.resolve("pytorch_model.bin"), new byte[16]);
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve("pytorch_model.bin") + ": not a PyTorch checkpoint: expected a torch.save zip archive"
                + " (starting with 'PK'), found bytes 00 00 00 00", e.getMessage());
    }

    @Test
    void missingFolder() {
        Path nowhere = dir.resolve("nowhere");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(nowhere));
        assertTrue(e.getMessage().startsWith(nowhere + ": folder not found"), e.getMessage());
    }

    @Test
    void corruptSingleFileIsReportedByPath() throws IOException {
        Files.write(dir.resolve("model.safetensors"), new byte[3]);
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("model.safetensors") + ": file is 3 bytes"), e.getMessage());
    }
}
