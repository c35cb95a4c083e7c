package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

class NormalSamplerTest {

    @Test
    void momentsAndTailsOfAStandardNormal() {
        NormalSampler s = new NormalSampler(123);
        int n = 2_000_000;
        double sum = 0;
        double squares = 0;
        double fourth = 0;
        long withinOne = 0;
        long beyondThree = 0;
        long beyondTailStart = 0;
        for (int i = 0; i < n; i++) {
            double v = s.next();
            sum += v;
            squares += v * v;
            fourth += v * v * v * v;
            withinOne += Math.abs(v) < 1 ? 1 : 0;
            beyondThree += Math.abs(v) > 3 ? 1 : 0;
            beyondTailStart += Math.abs(v) > 3.6541528853610088 ? 1 : 0;
        }
        // Bounds are about five standard errors wide, so the test is not flaky for any seed.
        assertEquals(0, sum / n, 0.004);
        assertEquals(1, squares / n, 0.005);
        assertEquals(3, fourth / n, 0.04);
        assertEquals(0.682689, withinOne / (double) n, 0.0017);
        assertEquals(0.0026998, beyondThree / (double) n, 0.0002);
        assertEquals(0.000258, beyondTailStart / (double) n, 0.00006); // the tail sampler is used and right
    }

    @Test
    void seedsPerNameDiffer() {
        assertEquals(NormalSampler.seedFor(1, "a.weight"), NormalSampler.seedFor(1, "a.weight"));
        assertNotEquals(NormalSampler.seedFor(1, "a.weight"), NormalSampler.seedFor(2, "a.weight"));
        assertNotEquals(NormalSampler.seedFor(1, "a.weight"), NormalSampler.seedFor(1, "a.bias"));
    }
}
