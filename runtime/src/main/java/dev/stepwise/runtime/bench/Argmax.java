package dev.stepwise.runtime.bench;

import java.nio.FloatBuffer;

/** Greedy choice over one row of logits, read in place from a direct buffer (no copy to the heap). */
final class Argmax {
    private Argmax() {
    }

    /** Index of the largest of {@code count} floats starting at {@code offset}; the first one wins a tie. */
    static long of(FloatBuffer logits, int offset, int count) {
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int v = 0; v < count; v++) {
            float x = logits.get(offset + v);
            if (x > bestValue) {
                bestValue = x;
                best = v;
            }
        }
        return best;
    }
}
