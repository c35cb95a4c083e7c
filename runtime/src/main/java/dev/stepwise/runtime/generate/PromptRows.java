package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;
import java.util.List;

/** The checks every generation engine makes of its prompts before anything runs, with the same messages. */
public final class PromptRows {
    private PromptRows() {
    }

    /**
     * Refuses no prompt, an empty row, an id outside {@code [0, vocab)} and a row that with {@code maxNewTokens} more
     * would not fit in {@code maxPositions}.
     *
     * @param vocab        the vocabulary size; 0 or less when the engine does not know it (no id is refused as too large)
     * @param maxPositions the positions the model has; {@code Long.MAX_VALUE} when the engine does not limit them
     */
    public static void check(List<long[]> prompts, long vocab, long maxPositions, int maxNewTokens) {
        if (prompts.isEmpty()) {
            throw new StepwiseException("no prompt given");
        }
        for (int r = 0; r < prompts.size(); r++) {
            long[] p = prompts.get(r);
            if (p.length == 0) {
                throw new StepwiseException("prompt row " + r + " is empty");
            }
            for (long id : p) {
                if (id < 0 || (vocab > 0 && id >= vocab)) {
                    throw new StepwiseException("prompt row " + r + ": token id " + id + " is outside the vocabulary [0, "
                            + vocab + ")");
                }
            }
            if (p.length + (long) maxNewTokens > maxPositions) {
                throw new StepwiseException("prompt row " + r + ": " + p.length + " + " + maxNewTokens
                        + " tokens exceed the model's " + maxPositions + " positions");
            }
        }
    }

    /** Rows laid out {@code [rows, width]}: the ids and the mask (1 for a real token, 0 for padding). */
    public record Padded(long[] ids, long[] mask) {
    }

    /** Each row's tokens first, then {@code pad} up to {@code width} (an encoder's input: right padding). */
    public static Padded rightPadded(List<long[]> rows, int width, long pad) {
        long[] ids = new long[rows.size() * width];
        long[] mask = new long[rows.size() * width];
        for (int b = 0; b < rows.size(); b++) {
            for (int t = 0; t < width; t++) {
                boolean real = t < rows.get(b).length;
                ids[b * width + t] = real ? rows.get(b)[t] : pad;
                mask[b * width + t] = real ? 1 : 0;
            }
        }
        return new Padded(ids, mask);
    }
}
