package dev.stepwise.runtime.unroll;

import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.file.Path;

/**
 * Opens a seq2seq unrolled folder ({@code stepwise unroll} on an encoder-decoder checkpoint) for generation: the
 * {@link Seq2SeqModel} generation (greedy, sampling, beam search, forced tokens) over its static encoder and decoder
 * step graphs, within the unrolled shapes (exactly {@code batch_size} rows, inputs of at most
 * {@code encoder_sequence_length} tokens, one new token per step graph). As for a decoder-only folder
 * ({@link StepGraphs}), each step graph's session is created when its step first runs and every session computes with
 * one memory map of the shared weights file ({@link StepSessions}).
 */
public final class Seq2SeqStepGraphs {
    private Seq2SeqStepGraphs() {
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
        StepSessions sessions = new StepSessions(dir, manifest, threads);
        try {
            OrtSession encoder = sessions.open(manifest.encoder());
            return Seq2SeqModel.ofStaticGraphs(config, encoder, sessions::step, new Seq2SeqModel.StaticShapes(
                    manifest.batch(), manifest.encoderSequence(), manifest.steps().size()), () -> {
                        OrtSessions.close(encoder);
                        sessions.close();
                    });
        } catch (RuntimeException e) {
            sessions.close();
            throw e;
        }
    }
}
