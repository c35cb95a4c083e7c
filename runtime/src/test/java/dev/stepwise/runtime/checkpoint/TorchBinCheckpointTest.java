package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.torchbin.TorchSave.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.torchbin.TorchBinFile;
import dev.stepwise.runtime.checkpoint.torchbin.TorchSave;
import dev.stepwise.runtime.model.WeightSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint folders holding pytorch_model.bin (or its shards) instead of safetensors. */
class TorchBinCheckpointTest {
    private static final Path GPT2_DIR = Fixtures.path("gpt2-tiny-random");

    @TempDir
    Path dir;

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    /**
     * The gpt2-tiny-random fixture re-saved as transformers saves GPT2LMHeadModel to pytorch_model.bin: every tensor
     * in its own F32 storage, plus lm_head.weight sharing transformer.wte.weight's storage.
     */
    @Test
    void gpt2BinFolderOpensAndMatchesItsSafetensorsTwin() throws IOException {
        TorchSave save = new TorchSave().metadataModule("transformer");
        try (Checkpoint original = Checkpoint.open(GPT2_DIR)) {
            int wteStorage = -1;
            int n = 0;
            for (String name : original.names()) {
                if (name.equals("transformer.wte.weight")) {
                    wteStorage = n;
                }
                save.f32(name, original.shape(name), floats(original.float32(name)));
                n++;
            }
            save.view("lm_head.weight", String.valueOf(wteStorage), 0, shape(1000, 32), shape(32, 1));
            save.write(dir.resolve(Checkpoint.BIN_FILE));
            Files.copy(GPT2_DIR.resolve("config.json"), dir.resolve("config.json"));

            try (Checkpoint bin = Checkpoint.open(dir)) {
                assertEquals(65, bin.names().size());
                assertInstanceOf(TorchBinFile.class, bin.fileOf("transformer.wte.weight"));
                assertEquals(dir.toString(), bin.describe());
                assertDoesNotThrow(() -> bin.checkAgainst(CheckpointTest.gpt2Specs(1000, 32, 512, 5)));
                for (String name : original.names()) {
                    assertArrayEquals(original.shape(name), bin.shape(name), name);
                    assertEquals(SafetensorsDtype.F32, bin.dtype(name));
                    assertEquals(original.float32(name), bin.float32(name), name);
                }
                assertEquals(bin.float32("transformer.wte.weight"), bin.float32("lm_head.weight"));

                List<WeightSpec> wrong = CheckpointTest.gpt2Specs(1000, 32, 512, 5);
                wrong.set(0, WeightSpec.required("transformer.wte.weight", 1000, 64));
                StepwiseException e = assertThrows(StepwiseException.class, () -> bin.checkAgainst(wrong));
                assertEquals(dir.resolve(Checkpoint.BIN_FILE) + ": tensor 'transformer.wte.weight' has shape [1000, 32],"
                        + " expected [1000, 64]", e.getMessage());
            }
        }
    }

    @Test
    void fp16BinCheckpointsAreWidened() throws IOException {
        new TorchSave().f16("w", shape(2, 2), 1, 0.5f, -2, 65504).write(dir.resolve(Checkpoint.BIN_FILE));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(SafetensorsDtype.F16, c.dtype("w"));
            assertArrayEquals(new float[] {1, 0.5f, -2, 65504}, floats(c.float32("w")));
            assertEquals(8, c.raw("w").remaining());
        }
    }

    private void writeShardedBin(String weightMapJson) throws IOException {
        new TorchSave().plainDict().f32("a", shape(2, 2), 1, 2, 3, 4).f16("b", shape(3), 0.5f, -1, 65504)
                .write(dir.resolve("pytorch_model-00001-of-00002.bin"));
        new TorchSave().plainDict().bf16("c", shape(1), 3).f32("d", shape(2), 7, 8)
                .write(dir.resolve("pytorch_model-00002-of-00002.bin"));
        Files.writeString(dir.resolve(Checkpoint.BIN_INDEX_FILE),
                "{\"metadata\": {\"total_size\": 36}, \"weight_map\": " + weightMapJson + "}");
    }

    private static final String GOOD_MAP = "{\"a\": \"pytorch_model-00001-of-00002.bin\", \"b\": \"pytorch_model-00001-of-00002.bin\","
            + " \"c\": \"pytorch_model-00002-of-00002.bin\", \"d\": \"pytorch_model-00002-of-00002.bin\"}";

    @Test
    void opensShardedBinCheckpoint() throws IOException {
        writeShardedBin(GOOD_MAP);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("a", "b", "c", "d"), new ArrayList<>(c.names()));
            assertEquals(2, c.files().size());
            assertEquals(dir.resolve("pytorch_model-00002-of-00002.bin").toAbsolutePath(), c.fileOf("d").path().toAbsolutePath());
            assertEquals(4f, c.float32("a").getFloat(12));
            assertEquals(65504f, c.float32("b").getFloat(8));
            assertEquals(SafetensorsDtype.BF16, c.dtype("c"));
            assertEquals(3f, c.float32("c").getFloat(0));
            assertEquals(8f, c.float32("d").getFloat(4));
        }
    }

    @Test
    void shardedBinIndexErrorsNameTheIndex() throws IOException {
        writeShardedBin(GOOD_MAP.replace("}", ", \"e\": \"pytorch_model-00002-of-00002.bin\"}"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve(Checkpoint.BIN_INDEX_FILE) + ": tensor 'e' is mapped to shard 'pytorch_model-00002-of-00002.bin',"
                + " but that shard has no such tensor", e.getMessage());

        writeShardedBin(GOOD_MAP.replace("\"d\": \"pytorch_model-00002-of-00002", "\"d\": \"pytorch_model-00003-of-00003"));
        e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve(Checkpoint.BIN_INDEX_FILE) + ": shard 'pytorch_model-00003-of-00003.bin' (for tensor 'd') not found in "
                + dir, e.getMessage());
    }

    @Test
    void aHostileShardIsRefusedByName() throws IOException {
        writeShardedBin(GOOD_MAP);
        byte[] evil = {(byte) 0x80, 2, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', ')', 'R', '.'};
        new TorchSave().write(dir.resolve("pytorch_model-00002-of-00002.bin"), evil);
        StepwiseException e = assertThrows(StepwiseException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve("pytorch_model-00002-of-00002.bin") + ": refusing pickle global 'os.system'"
                + " (only tensor-rebuilding calls are allowed)", e.getMessage());
    }

    @Test
    void safetensorsArePreferredOverBin() throws IOException {
        new TorchSave().f32("from_bin", shape(1), 1).write(dir.resolve(Checkpoint.BIN_FILE));
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(Checkpoint.SINGLE_FILE),
                List.of(new PlannedTensor("from_safetensors", SafetensorsDtype.F32, 1)))) {
            w.write("from_safetensors", new float[] {2});
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("from_safetensors"), new ArrayList<>(c.names()));
        }
    }

    @Test
    void singleBinIsPreferredOverABinIndex() throws IOException {
        writeShardedBin(GOOD_MAP);
        new TorchSave().f32("single", shape(1), 1).write(dir.resolve(Checkpoint.BIN_FILE));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("single"), new ArrayList<>(c.names()));
            assertTrue(c.toString().contains("1 tensors in 1 file(s)"), c.toString());
        }
    }
}
