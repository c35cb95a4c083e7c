package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.ort.PinnedLogits;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pinned logits of a decoding run: a fresh buffer for a prefill (used once), and one buffer made at the first
 * decode step and reused by every later one; and the frame of one ONNX Runtime forward around them ({@link #forward}),
 * which the copying and the in-place cache runs share.
 */
final class StepLogits implements AutoCloseable {
    private final DecoderGraphs model;
    private final int rows;
    private PinnedLogits step;

    StepLogits(DecoderGraphs model, int rows) {
        this.model = model;
        this.rows = rows;
    }

    /** The session call of one forward: {@code feed} holds the past and the id inputs, {@code logits} is pinned. */
    @FunctionalInterface
    interface Session {
        void run(Map<String, OnnxTensor> feed, PinnedLogits logits) throws OrtException;
    }

    /**
     * One forward of run {@code run}: the id inputs of {@code in} added to {@code past} (in their declared types), the
     * session called with them and a pinned logits buffer, the ids' tensors closed after.
     *
     * @return per row, the logits of its last position
     */
    float[][] forward(Map<String, OnnxTensor> past, StepIds in, int run, Session session) {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>(past);
        List<OnnxTensor> created = new ArrayList<>();
        int length = in.length();
        // ONNX Runtime writes the logits into our direct buffer; only each row's last position is copied out.
        PinnedLogits logits = take(model.lastLogitsOnly(run) ? 1 : length);
        try {
            putIds(feed, created, in);
            session.run(feed, logits);
            return logits.lastPositions();
        } catch (OrtException e) {
            throw new StepwiseException(model.dir() + ": ONNX Runtime failed while generating: " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
            release(logits, length);
        }
    }

    /** Adds the id inputs of {@code in} to {@code feed} (in each input's declared type), each also to {@code created}. */
    private void putIds(Map<String, OnnxTensor> feed, List<OnnxTensor> created, StepIds in) throws OrtException {
        created.add(put(feed, "input_ids", in.inputIds(), in.length()));
        created.add(put(feed, "attention_mask", in.attentionMask(), in.total()));
        created.add(put(feed, "position_ids", in.positionIds(), in.length()));
    }

    private OnnxTensor put(Map<String, OnnxTensor> feed, String name, long[] data, int length) throws OrtException {
        OnnxTensor t = OrtTensors.create(OrtSessions.environment(), HostTensor.ofLongs(data, rows, length),
                model.inputType(name));
        feed.put(name, t);
        return t;
    }

    /** The buffer for a run writing {@code positions} logits per row. */
    private PinnedLogits take(int positions) {
        return step != null && step.fits(rows, positions) ? step
                : PinnedLogits.allocate(model.logitsType(), rows, positions, model.vocab());
    }

    /** After a run of {@code length} new tokens per row: keeps a decode step's buffer, closes a prefill's. */
    private void release(PinnedLogits used, int length) {
        if (used == step) {
            return;
        }
        if (length == 1) {
            close();
            step = used;
        } else {
            used.close();
        }
    }

    @Override
    public void close() {
        if (step != null) {
            step.close();
            step = null;
        }
    }
}
