package dev.stepwise.runtime.ort;

import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

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

    /**
     * A session on {@code modelFile} that computes with the given tensors in place of the same-named initializers
     * ({@code SessionOptions.addInitializer}: ONNX Runtime's way to share initializers between sessions, used as they
     * are, never copied; see {@link SharedWeights}). ({@code addExternalInitializers} looks alike but copies each
     * tensor into the session: 32 step graphs of GPT-2 small then held 16.7 GB instead of 0.5.) Weights are not
     * pre-packed (a packed copy per session would undo the sharing), and the sessions use no memory arena, which
     * would keep each session's largest activations reserved while the other sessions run; a finished session's
     * threads do not spin, since many sessions take turns on the same cores.
     */
    public static OrtSession open(Path modelFile, int intraOpThreads, Map<String, OnnxTensorLike> initializers) {
        if (!Files.isRegularFile(modelFile)) {
            throw new StepwiseException(modelFile + ": ONNX model file not found");
        }
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            for (Map.Entry<String, OnnxTensorLike> e : initializers.entrySet()) {
                options.addInitializer(e.getKey(), e.getValue());
            }
            options.addConfigEntry("session.disable_prepacking", "1");
            options.addConfigEntry("session.intra_op.allow_spinning", System.getProperty("stepwise.spin", "0"));
            options.setCPUArenaAllocator(false);
            options.setMemoryPatternOptimization(false);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
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
