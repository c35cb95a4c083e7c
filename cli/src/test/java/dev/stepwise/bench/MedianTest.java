package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MedianTest {
    @Test
    void oddCountIsTheMiddleSampleInMillis() {
        assertEquals(2.0, Median.millis(new long[] {9_000_000, 1_000_000, 2_000_000}), 1e-12);
    }

    @Test
    void evenCountAveragesTheMiddlePair() {
        assertEquals(2.5, Median.millis(new long[] {4_000_000, 1_000_000, 3_000_000, 2_000_000}), 1e-12);
    }

    @Test
    void anOutlierDoesNotMoveIt() {
        assertEquals(1.0, Median.millis(new long[] {1_000_000, 1_000_000, 900_000_000}), 1e-12);
    }

    @Test
    void leavesTheSamplesAlone() {
        long[] samples = {3, 1, 2};
        Median.millis(samples);
        assertEquals(3, samples[0]);
    }

    @Test
    void noSamplesIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Median.millis(new long[0]));
    }
}
