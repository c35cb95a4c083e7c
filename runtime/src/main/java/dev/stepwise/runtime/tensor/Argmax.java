package dev.stepwise.runtime.tensor;

/** The greedy choice, the one place it is computed: the first index of the largest value (like {@code torch.argmax}). */
public final class Argmax {
    private Argmax() {
    }

    /** Index (from {@code offset}) of the largest of {@code count} values starting at {@code offset}; the first wins a tie. */
    public static int of(float[] values, int offset, int count) {
        int best = 0;
        for (int v = 1; v < count; v++) {
            if (values[offset + v] > values[offset + best]) {
                best = v;
            }
        }
        return best;
    }

    /** Index of the largest value of the whole array. */
    public static int of(float[] values) {
        return of(values, 0, values.length);
    }
}
