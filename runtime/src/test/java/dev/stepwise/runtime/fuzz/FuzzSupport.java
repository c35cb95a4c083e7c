package dev.stepwise.runtime.fuzz;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import dev.stepwise.runtime.checkpoint.TensorFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What every fuzz target asserts: reading an input either works or ends in Stepwise's own one-line
 * {@link StepwiseException}. Any other throwable (an IndexOutOfBounds, a NumberFormat, an OutOfMemoryError from a
 * length the file lies about, gson's or protobuf's own exceptions) escapes, and Jazzer reports it as a finding.
 */
public final class FuzzSupport {
    private FuzzSupport() {
    }

    /** One scratch folder per JVM: fuzzing rewrites the same few files millions of times. */
    private static final Path SCRATCH = createScratch();

    private static Path createScratch() {
        try {
            Path dir = Files.createTempDirectory("stepwise-fuzz-");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A folder of the scratch area for one target, created on first use. */
    static Path folder(String target) {
        Path dir = SCRATCH.resolve(target);
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code bytes} as {@code dir/name}, replacing what was there. */
    static Path write(Path dir, String name, byte[] bytes) {
        try {
            return Files.write(dir.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs {@code read}; a StepwiseException is a clean refusal when its message is one non-empty line. */
    static void refusedCleanly(Runnable read) {
        try {
            read.run();
        } catch (StepwiseException e) {
            String m = e.getMessage();
            if (m == null || m.isBlank() || m.contains("\n") || m.contains("\r")) {
                throw new AssertionError("a StepwiseException must carry one line, got: " + m, e);
            }
        }
    }

    /** Reads everything a tensor file offers: each tensor's shape, bytes (mapped, widened, positional) — and closes it. */
    public static int readAllTensors(TensorFile f) {
        try (f) {
            for (String name : f.names()) {
                f.shape(name);
                ByteBuffer raw = f.raw(name);
                if (f.dtype(name).readableAsFloat32()) {
                    f.float32(name);
                }
                f.readRaw(name, 0, ByteBuffer.allocate(Math.min(raw.remaining(), 64)));
            }
            return f.names().size();
        }
    }
}
