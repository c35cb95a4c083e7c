package dev.stepwise.runtime.unroll;

import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.SharedWeights;
import java.nio.file.Path;

/**
 * A seq2seq unrolled folder ({@code stepwise unroll} on an encoder-decoder checkpoint) opened for generation: the
 * {@link Seq2SeqModel} generation (greedy, sampling, beam search, forced tokens) over its static encoder and decoder
 * step graphs, within the unrolled shapes (exactly {@code batch_size} rows, inputs of at most
 * {@code encoder_sequence_length} tokens, one new token per step graph). As for a decoder-only folder
 * ({@link StepGraphs}), each step graph's session is created when its step first runs, and every session computes with
 * one memory map of the shared weights file.
 */
public final class Seq2SeqStepGraphs implements AutoCloseable {
    private final Path dir;
    private final UnrollManifest manifest;
    private final int threads;
    private final SharedWeights weights = new SharedWeights();
    private final OrtSession[] steps;

    private Seq2SeqStepGraphs(Path dir, UnrollManifest manifest, int threads) {
        this.dir = dir;
        this.manifest = manifest;
        this.threads = threads;
        this.steps = new OrtSession[manifest.steps().size()];
    }

    /** Opens a seq2seq unrolled folder; {@code threads} 0 = one ONNX Runtime intra-op thread per core. */
    public static Seq2SeqModel open(Path dir, int threads) {
        UnrollManifest manifest = UnrollManifest.readIfPresent(dir);
        if (manifest == null || !manifest.isSeq2Seq()) {
            throw new StepwiseException(dir + ": " + (manifest == null ? "no " + Unroller.MANIFEST_FILE
                    : "a decoder-only unroll (open it with Stepwise.open)") + "; expected a seq2seq folder written by"
                    + " 'stepwise unroll'");
        }
        ModelConfig config = Seq2SeqModel.config(dir);
        Seq2SeqStepGraphs graphs = new Seq2SeqStepGraphs(dir, manifest, threads);
        try {
            OrtSession encoder = graphs.open(manifest.encoder());
            return Seq2SeqModel.ofStaticGraphs(config, encoder, graphs::step, new Seq2SeqModel.StaticShapes(
                    manifest.batch(), manifest.encoderSequence(), manifest.steps().size()), () -> {
                        OrtSessions.close(encoder);
                        graphs.close();
                    });
        } catch (RuntimeException e) {
            graphs.close();
            throw e;
        }
    }

    private OrtSession open(String file) {
        Path path = dir.resolve(file);
        return OrtSessions.open(path, threads, weights.initializers(OnnxModelReader.load(path)));
    }

    private synchronized OrtSession step(int n) {
        if (n >= steps.length) {
            throw new StepwiseException(dir + ": has " + steps.length + " step graphs; step " + n + " was asked for");
        }
        if (steps[n] == null) {
            steps[n] = open(manifest.steps().get(n).fileName());
        }
        return steps[n];
    }

    /** Closes every step session, then the shared weights they computed with. */
    @Override
    public synchronized void close() {
        for (int s = 0; s < steps.length; s++) {
            OrtSessions.close(steps[s]);
            steps[s] = null;
        }
        weights.close();
    }
}
