package dev.stepwise.runtime.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens ONNX Runtime sessions with the project's settings (threads = cores unless told otherwise, quiet logs). */
public final class OrtSessions {
    private OrtSessions() {
    }

    public static OrtEnvironment environment() {
        return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "stepwise");
    }

    public static OrtSession open(Path modelFile, int intraOpThreads) {
        return open(modelFile, intraOpThreads, false);
    }

    /**
     * As {@link #open(Path, int)}; with {@code weightsInPlace}, ONNX Runtime computes with the weights where they lie
     * (its memory map of the external data) and makes no copy of them: no packed copy of each MatMul weight, and no
     * graph optimizations, which would fold the Casts it puts in front of float16 weights into float32 copies, and no
     * memory arena, which would keep every such Cast's output. For a
     * validation run (a few calls) that keeps the session at one mapped copy of the file, at some speed per call;
     * the graph is then run exactly as written.
     */
    public static OrtSession open(Path modelFile, int intraOpThreads, boolean weightsInPlace) {
        if (!Files.isRegularFile(modelFile)) {
            throw new StepwiseException(modelFile + ": ONNX model file not found");
        }
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            if (weightsInPlace) {
                options.addConfigEntry("session.disable_prepacking", "1");
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
                // without the arena, a Cast's float32 copy of a weight is freed once used instead of kept for reuse
                options.setCPUArenaAllocator(false);
                options.setMemoryPatternOptimization(false);
            } else {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            }
            options.setIntraOpNumThreads(intraOpThreads > 0 ? intraOpThreads : Runtime.getRuntime().availableProcessors());
            options.setInterOpNumThreads(1);
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            return environment().createSession(modelFile.toString(), options);
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime cannot load it: " + firstLine(e.getMessage()), e);
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
