package dev.stepwise.runtime.checkpoint.torchbin;

import static dev.stepwise.runtime.checkpoint.torchbin.TorchSave.shape;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.fuzz.FuzzSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files, cut and mutated at random (with a fixed seed): opening and reading them either works or fails with a
 * one-line StepwiseException naming the file — never another exception, never a hang.
 */
class TorchBinFuzzTest {
    @TempDir
    Path dir;

    private static TorchSave sample() {
        return new TorchSave().metadataModule("h").f32("h.w", shape(2, 3), 1, 2, 3, 4, 5, 6).f16("h.b", shape(3), 1, 2, 3)
                .bf16("x", shape(1), 7).i64("ids", shape(2), 1, 2).view("tied", "0", 1, shape(5), shape(1));
    }

    /** Opens the file and reads every tensor; returns how many tensors were read, or -1 when the file was refused. */
    private static int openAndReadAll(Path file) {
        try {
            return FuzzSupport.readAllTensors(TorchBinFile.open(file));
        } catch (StepwiseException e) {
            assertTrue(e.getMessage().startsWith(file + ": ") && !e.getMessage().contains("\n"), e.getMessage());
            return -1;
        }
    }

    @Test
    void truncationsAreRefusedCleanly() throws IOException {
        Path file = dir.resolve("pytorch_model.bin");
        byte[] whole = Files.readAllBytes(sample().write(file));
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            // Every cut through the directory and end records at the tail; every 9th byte before them.
            for (int cut = 0; cut < whole.length; cut += cut < whole.length - 200 ? 9 : 1) {
                Files.write(file, Arrays.copyOf(whole, cut));
                assertEquals(-1, openAndReadAll(file), "cut at " + cut);
            }
        });
        Files.write(file, whole);
        assertEquals(5, openAndReadAll(file));
    }

    @Test
    void randomlyMutatedArchivesFailCleanly() throws IOException {
        Path file = dir.resolve("pytorch_model.bin");
        byte[] whole = Files.readAllBytes(sample().write(file));
        Random random = new Random(20240611);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 300; i++) {
                byte[] copy = whole.clone();
                for (int n = 1 + random.nextInt(4); n > 0; n--) {
                    copy[random.nextInt(copy.length)] = (byte) random.nextInt(256);
                }
                Files.write(file, copy);
                openAndReadAll(file);
            }
        });
    }

    @Test
    void randomlyMutatedPicklesFailCleanly() throws IOException {
        Path file = dir.resolve("pytorch_model.bin");
        TorchSave save = sample();
        byte[] pickle = save.pickle();
        Random random = new Random(7);
        int opened = 0;
        for (int i = 0; i < 300; i++) {
            byte[] copy = pickle.clone();
            for (int n = 1 + random.nextInt(3); n > 0; n--) {
                int at = random.nextInt(copy.length);
                // Half the time an opcode byte, so that the stream's structure changes, not just its values.
                copy[at] = random.nextBoolean() ? (byte) random.nextInt(256) : (byte) "()tRqhKXsuQ.}]a".charAt(random.nextInt(15));
            }
            save.write(file, copy);
            if (assertTimeoutPreemptively(Duration.ofSeconds(10), () -> openAndReadAll(file)) >= 0) {
                opened++;
            }
        }
        assertTrue(opened < 300, "most mutations are refused");
    }
}
