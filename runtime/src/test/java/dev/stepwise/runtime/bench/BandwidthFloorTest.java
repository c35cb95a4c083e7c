package dev.stepwise.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The floor graph runs, reads at least the weight bytes, and the figure is a positive time (never timed here). */
class BandwidthFloorTest {
    @Test
    void readsTheWeightBytesRoundedUpToWholeRows() {
        long weightBytes = 3L * BandwidthFloor.ROW * Float.BYTES + 12;

        BandwidthFloor.Measurement m = BandwidthFloor.measure(weightBytes, 1, 1, 3);

        assertEquals(4L * BandwidthFloor.ROW * Float.BYTES, m.bytesRead());
        assertEquals(3, m.runs());
        assertTrue(m.medianMillis() > 0);
        assertTrue(m.gigabytesPerSecond() > 0);
    }
}
