package dev.stepwise.runtime.unroll;

import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.SharedWeights;
import java.nio.file.Path;

/**
 * The ONNX Runtime sessions of an unrolled folder's graphs: one per step graph, created when its step first runs and
 * reused after, all computing with one memory map of the shared weights file ({@link SharedWeights}), so the folder
 * costs one copy of the weights however many graphs it has. Thread-safe; closing it closes every session, then the
 * weights.
 */
final class StepSessions implements AutoCloseable {
    private final Path dir;
    private final UnrollManifest manifest;
    private final int threads;
    private final SharedWeights weights = new SharedWeights();
    private final OrtSession[] sessions;

    StepSessions(Path dir, UnrollManifest manifest, int threads) {
        this.dir = dir;
        this.manifest = manifest;
        this.threads = threads;
        this.sessions = new OrtSession[manifest.steps().size()];
    }

    /** Step graph {@code step}'s session, opened on first use. */
    synchronized OrtSession step(int step) {
        if (step >= sessions.length) {
            throw new StepwiseException(dir + ": has " + sessions.length + " step graphs; step " + step + " was asked for");
        }
        if (sessions[step] == null) {
            sessions[step] = open(manifest.steps().get(step).fileName());
        }
        return sessions[step];
    }

    /** A session of another graph of the folder (a seq2seq encoder) over the same weights; the caller closes it. */
    OrtSession open(String file) {
        Path path = dir.resolve(file);
        return OrtSessions.open(path, threads, weights.initializers(OnnxModelReader.load(path)));
    }

    int count() {
        return sessions.length;
    }

    synchronized int opened() {
        int n = 0;
        for (OrtSession s : sessions) {
            n += s != null ? 1 : 0;
        }
        return n;
    }

    long mappedWeightBytes() {
        return weights.mappedBytes();
    }

    @Override
    public synchronized void close() {
        for (int s = 0; s < sessions.length; s++) {
            OrtSessions.close(sessions[s]);
            sessions[s] = null;
        }
        weights.close();
    }
}
