package dev.stepwise.bench;

import java.util.Arrays;

/** Medians of nanosecond samples, in milliseconds: the median shrugs off the odd step another process interrupted. */
final class Median {
    private Median() {
    }

    static double millis(long[] nanos) {
        if (nanos.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        double median = sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
        return median / 1e6;
    }
}
