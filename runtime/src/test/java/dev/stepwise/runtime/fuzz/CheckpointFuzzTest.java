package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.stepwise.runtime.checkpoint.SafetensorsFile;
import dev.stepwise.runtime.checkpoint.torchbin.TorchBinFile;
import java.nio.file.Path;

/**
 * Checkpoint weight files, opened and every tensor read: {@code model.safetensors} (the 8-byte header length, the
 * JSON header, the data offsets) and {@code pytorch_model.bin} ({@code torch.save}'s zip directory, the restricted
 * unpickler of {@code data.pkl}, the storages it points into). (checkpoint.torchbin.TorchBinFuzzTest mutates at
 * random with a fixed seed; these targets are coverage-guided.) Corpus: {@code CheckpointFuzzTestInputs/<method>/}.
 */
class CheckpointFuzzTest {
    private static final Path DIR = FuzzSupport.folder("checkpoint");

    @FuzzTest(maxDuration = "30s")
    void safetensorsFile(byte[] input) {
        Path file = FuzzSupport.write(DIR, "model.safetensors", input);
        FuzzSupport.refusedCleanly(() -> FuzzSupport.readAllTensors(SafetensorsFile.open(file)));
    }

    @FuzzTest(maxDuration = "30s")
    void pytorchModelBin(byte[] input) {
        Path file = FuzzSupport.write(DIR, "pytorch_model.bin", input);
        FuzzSupport.refusedCleanly(() -> FuzzSupport.readAllTensors(TorchBinFile.open(file)));
    }
}
