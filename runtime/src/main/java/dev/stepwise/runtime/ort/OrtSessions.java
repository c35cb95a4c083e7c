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
        if (!Files.isRegularFile(modelFile)) {
            throw new StepwiseException(modelFile + ": ONNX model file not found");
        }
        try {
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
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
