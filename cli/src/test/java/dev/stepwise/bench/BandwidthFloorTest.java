package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The floor graphs load and run on a buffer of at least the weight bytes; reads take some time (never timed here). */
class BandwidthFloorTest {
    @Test
    void readsTheWeightBytesRoundedUpToWholeRows() {
        long weightBytes = 3L * BandwidthFloor.ROW * Float.BYTES + 12;

        try (BandwidthFloor floor = BandwidthFloor.open(weightBytes, 1)) {
            assertEquals(4L * BandwidthFloor.ROW * Float.BYTES, floor.bytes());
            for (BandwidthFloor.Method m : BandwidthFloor.Method.values()) {
                long[] nanos = floor.read(m, 2);
                assertEquals(2, nanos.length);
                assertTrue(Arrays.stream(nanos).allMatch(n -> n > 0), m.toString());
            }
        }
    }

    @Test
    void weightsOfAnySizeAreReadInPiecesByOneGraph() {
        long weightBytes = 10L * BandwidthFloor.ROW * Float.BYTES;
        // pieces of at most 4 rows: 10 rows -> 3 pieces of 4 rows (rounded up to equal pieces)
        try (BandwidthFloor floor = BandwidthFloor.open(weightBytes, 1, 4L * BandwidthFloor.ROW * Float.BYTES)) {
            assertEquals(3, floor.pieces());
            assertEquals(12L * BandwidthFloor.ROW * Float.BYTES, floor.bytes());
            for (BandwidthFloor.Method m : BandwidthFloor.Method.values()) {
                assertTrue(floor.read(m, 1)[0] > 0, m.toString());
            }
        }
    }

    @Test
    void theFloorIsTheFastestMethodsMedian() {
        long[][] nanos = {{5_000_000, 6_000_000, 7_000_000}, {3_000_000, 9_000_000, 4_000_000}, {8_000_000, 8_000_000, 1}};

        FloorResult r = FloorResult.fastest(nanos, 4_000_000L);

        assertEquals("reduce_sum", r.method());
        assertEquals(4.0, r.medianMillis(), 1e-12);
        assertEquals(1.0, r.gigabytesPerSecond(), 1e-9);
        assertEquals(3, r.samples());
        assertEquals(6.0, r.medianMillisByMethod().get("reduce_max"), 1e-12);
    }
}
