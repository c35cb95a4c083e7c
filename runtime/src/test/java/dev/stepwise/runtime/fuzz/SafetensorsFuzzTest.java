package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.stepwise.runtime.checkpoint.SafetensorsFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * {@code model.safetensors}: the 8-byte header length, the JSON header ({@code SafetensorsHeader}) and every
 * tensor's bytes. The corpus ({@code SafetensorsFuzzTestInputs/}) holds small valid files of each dtype.
 */
class SafetensorsFuzzTest {
    private static final Path DIR = FuzzSupport.folder("safetensors");

    @FuzzTest(maxDuration = "30s")
    void safetensorsFile(byte[] input) {
        Path file = FuzzSupport.write(DIR, "model.safetensors", input);
        FuzzSupport.refusedCleanly(() -> {
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                f.metadata();
                for (String name : f.names()) {
                    f.shape(name);
                    f.entry(name).elementCount();
                    f.raw(name);
                    if (f.dtype(name).readableAsFloat32()) {
                        f.float32(name);
                    }
                    f.readRaw(name, 0, ByteBuffer.allocate((int) Math.min(f.entry(name).byteLength(), 64)));
                }
            }
        });
    }
}
