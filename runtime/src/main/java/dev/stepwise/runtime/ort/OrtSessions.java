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

    private static final OrtEnvironment ENVIRONMENT = createEnvironment();

    /**
     * The process's ONNX Runtime environment, with one global intra-op pool of one thread per core for the sessions
     * that ask for it (shared-weight step sessions); other sessions keep threads of their own.
     */
    public static OrtEnvironment environment() {
        return ENVIRONMENT;
    }

    private static OrtEnvironment createEnvironment() {
        try (OrtEnvironment.ThreadingOptions threads = new OrtEnvironment.ThreadingOptions()) {
            threads.setGlobalIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            threads.setGlobalInterOpNumThreads(1);
            threads.setGlobalSpinControl(true);
            return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "stepwise", threads);
        } catch (OrtException e) {
            throw new StepwiseException("cannot start ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /**
     * Closes a session (null: nothing), ignoring a failure to close: there is nothing left to do with such a session,
     * and the caller is usually already reporting another error.
     */
    public static void close(OrtSession session) {
        if (session == null) {
            return;
        }
        try {
            session.close();
        } catch (OrtException e) {
            // nothing left to do with a session that fails to close
        }
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
        return open(modelFile, intraOpThreads, weightsInPlace, null);
    }

    /**
     * As {@link #open(Path, int)} with ONNX Runtime's profiler on: every run's node timings go to a JSON file whose
     * name starts with {@code profilePrefix}; {@link OrtSession#endProfiling()} closes it and returns its path.
     */
    public static OrtSession openProfiled(Path modelFile, int intraOpThreads, String profilePrefix) {
        return open(modelFile, intraOpThreads, false, profilePrefix);
    }

    private static OrtSession open(Path modelFile, int intraOpThreads, boolean weightsInPlace, String profilePrefix) {
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
            if (profilePrefix != null) {
                options.enableProfiling(profilePrefix);
            }
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
     * would keep each session's largest activations reserved while the other sessions run. With one thread per core
     * (the default) every such session runs on the environment's one thread pool; with another count each session
     * has its own threads, which do not spin (sessions take turns on the same cores; a finished one spinning slows
     * the next 2.7× on GPT-2 small's step graphs).
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
            boolean globalPool = intraOpThreads <= 0 || intraOpThreads == Runtime.getRuntime().availableProcessors();
            if (globalPool) {
                options.disablePerSessionThreads(); // the environment's one pool, whose threads may spin
            } else {
                // sessions of their own threads take turns on the cores: a finished one must not spin against the next
                options.addConfigEntry("session.intra_op.allow_spinning", "0");
                options.setIntraOpNumThreads(intraOpThreads);
                options.setInterOpNumThreads(1);
            }
            options.setCPUArenaAllocator(false);
            options.setMemoryPatternOptimization(false);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
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
