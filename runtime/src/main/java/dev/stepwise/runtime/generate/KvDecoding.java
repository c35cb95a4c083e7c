package dev.stepwise.runtime.generate;

import java.util.Arrays;
import java.util.List;

/**
 * The one {@link StepModel} every engine decodes through: a batch of rows left padded to one length, their attention
 * mask and next positions, and an engine's {@link DecoderStep} that holds the KV cache. Padding is masked and position
 * ids follow the mask ({@link StepIds#prefill}), so a padded row produces the same tokens as the row alone.
 */
public final class KvDecoding implements StepModel {
    private final DecoderStep engine;
    private final int rows;
    private final long[][] mask;
    private final long[] nextPosition;
    private float[][] lastLogits;

    /**
     * Feeds the prompts (the prefill) and returns the running decoding; on failure the engine is closed.
     *
     * @param prompts each row's real tokens; shorter rows are left padded with {@code pad}
     * @param length  the length rows are padded to: the longest prompt, or the length a static graph was built for
     */
    public static KvDecoding start(DecoderStep engine, List<long[]> prompts, int length, long pad) {
        try {
            return new KvDecoding(engine, prompts, length, pad);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    private KvDecoding(DecoderStep engine, List<long[]> prompts, int length, long pad) {
        this.engine = engine;
        this.rows = prompts.size();
        this.mask = new long[rows][];
        this.nextPosition = new long[rows];
        StepIds prefill = StepIds.prefill(prompts, length, pad);
        for (int b = 0; b < rows; b++) {
            mask[b] = Arrays.copyOfRange(prefill.attentionMask(), b * length, (b + 1) * length);
            nextPosition[b] = prompts.get(b).length;
        }
        lastLogits = engine.run(prefill);
    }

    @Override
    public int rows() {
        return rows;
    }

    /** The last run's logits at the row's last position (a copy the caller may modify). */
    @Override
    public float[] logits(int row) {
        return lastLogits[row].clone();
    }

    /** Feeds one token per row: each row's next position, and one more attended slot in its mask. */
    @Override
    public void step(long[] tokens) {
        long[] positions = new long[rows];
        for (int b = 0; b < rows; b++) {
            positions[b] = nextPosition[b]++;
            mask[b] = Arrays.copyOf(mask[b], mask[b].length + 1);
            mask[b][mask[b].length - 1] = 1;
        }
        run(tokens, positions, 1);
    }

    /** Row {@code i} becomes a copy of old row {@code from[i]}: the engine's cache, the mask and positions here. */
    @Override
    public void reorder(int[] from) {
        boolean identity = true;
        for (int i = 0; i < from.length; i++) {
            identity &= from[i] == i;
        }
        if (identity) {
            return;
        }
        engine.reorderCache(from);
        long[][] oldMask = mask.clone();
        long[] oldPosition = nextPosition.clone();
        for (int i = 0; i < rows; i++) {
            mask[i] = oldMask[from[i]];
            nextPosition[i] = oldPosition[from[i]];
        }
    }

    private void run(long[] ids, long[] positions, int length) {
        int total = mask[0].length;
        long[] flatMask = new long[rows * total];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(mask[b], 0, flatMask, b * total, total);
        }
        lastLogits = engine.run(new StepIds(ids, flatMask, positions, rows, length, total));
    }

    @Override
    public void close() {
        engine.close();
    }
}
