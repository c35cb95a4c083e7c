package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.stepwise.runtime.checkpoint.torchbin.TorchBinFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * {@code pytorch_model.bin} ({@code torch.save}'s zip): the zip directory, the restricted unpickler of
 * {@code data.pkl} and the storages it points into. (checkpoint.torchbin.TorchBinFuzzTest mutates at random with a
 * fixed seed; this target is coverage-guided.) Corpus: {@code TorchBinFuzzTargetTestInputs/}.
 */
class TorchBinFuzzTargetTest {
    private static final Path DIR = FuzzSupport.folder("torchbin");

    @FuzzTest(maxDuration = "30s")
    void pytorchModelBin(byte[] input) {
        Path file = FuzzSupport.write(DIR, "pytorch_model.bin", input);
        FuzzSupport.refusedCleanly(() -> {
            try (TorchBinFile f = TorchBinFile.open(file)) {
                for (String name : f.names()) {
                    f.shape(name);
                    f.raw(name);
                    if (f.dtype(name).readableAsFloat32()) {
                        f.float32(name);
                    }
                    f.readRaw(name, 0, ByteBuffer.allocate(Math.min(f.raw(name).remaining(), 64)));
                }
            }
        });
    }
}
