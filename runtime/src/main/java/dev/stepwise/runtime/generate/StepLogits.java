package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.ort.PinnedLogits;

/**
 * The pinned logits of a decoding run: a fresh buffer for a prefill (used once), and one buffer made at the first
 * decode step and reused by every later one.
 */
final class StepLogits implements AutoCloseable {
    private final DecoderGraphs model;
    private final int rows;
    private PinnedLogits step;

    StepLogits(DecoderGraphs model, int rows) {
        this.model = model;
        this.rows = rows;
    }

    /** The buffer for a run writing {@code positions} logits per row. */
    PinnedLogits take(int positions) {
        return step != null && step.fits(rows, positions) ? step
                : PinnedLogits.allocate(model.logitsType(), rows, positions, model.vocab());
    }

    /** After a run of {@code length} new tokens per row: keeps a decode step's buffer, closes a prefill's. */
    void release(PinnedLogits used, int length) {
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
