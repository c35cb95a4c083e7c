package dev.stepwise.runtime.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The documented draw and choice rule: pinned values, statistics of the draw, and the rule on small hand cases. */
class LoopSamplingTest {

    /** Values computed from the formula in LoopSampling's documentation by an independent (Python) implementation. */
    private static final long[][] PINNED = {
        {0L, 0, 0, 558326653L},
        {42L, 0, 0, 1930784930L},
        {42L, 1, 0, 1151889569L},
        {42L, 0, 1, 1651902489L},
        {-1L, 3, 7, 351758555L},
        {Long.MAX_VALUE, 63, 35, 83780855L},
        {Long.MIN_VALUE, 0, 0, 1277414956L},
        {2147483689L, 0, 0, 1930784930L}, // 42 + P: seeds equal modulo P draw the same
    };

    @Test
    void hashMatchesTheDocumentedFormula() {
        for (long[] p : PINNED) {
            assertEquals(p[3], LoopSampling.hash(p[0], p[1], p[2]), "seed " + p[0] + " row " + p[1] + " step " + p[2]);
            assertEquals((float) (p[3] >> 7) / (1 << 24), LoopSampling.uniform(p[0], (int) p[1], (int) p[2]));
        }
        assertEquals(0.8990917801856995f, LoopSampling.uniform(42, 0, 0));
    }

    @Test
    void uniformStaysInsideTheUnitInterval() {
        assertEquals(0f, LoopSampling.toUniform(0));
        assertEquals(1f - 0x1p-24f, LoopSampling.toUniform(LoopSampling.P - 1));
        for (int s = -50; s < 50; s++) {
            for (int t = 0; t < 50; t++) {
                float u = LoopSampling.uniform(s * 1_000_003L, s & 7, t);
                assertTrue(u >= 0f && u < 1f, "u = " + u);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> LoopSampling.uniform(1, -1, 0));
    }

    /** Mean, 64-bin histogram, and no linear relation between neighbouring steps, rows or seeds. */
    @Test
    void drawsLookIndependentAndUniform() {
        int seeds = 20;
        int rows = 32;
        int steps = 64;
        int n = seeds * rows * steps;
        double sum = 0;
        int[] bins = new int[64];
        double[] stepPair = new double[5];
        double[] rowPair = new double[5];
        double[] seedPair = new double[5];
        for (int s = 0; s < seeds; s++) {
            for (int r = 0; r < rows; r++) {
                for (int t = 0; t < steps; t++) {
                    double u = LoopSampling.uniform(s, r, t);
                    sum += u;
                    bins[(int) (u * 64)]++;
                    accumulate(stepPair, u, LoopSampling.uniform(s, r, t + 1));
                    accumulate(rowPair, u, LoopSampling.uniform(s, r + 1, t));
                    accumulate(seedPair, u, LoopSampling.uniform(s + 1, r, t));
                }
            }
        }
        double sigma = Math.sqrt(1.0 / 12 / n);
        assertEquals(0.5, sum / n, 4 * sigma, "mean");
        double expected = n / 64.0;
        double chi2 = 0;
        for (int b : bins) {
            chi2 += (b - expected) * (b - expected) / expected;
        }
        assertTrue(chi2 < 110, "chi-square " + chi2 + " over 63 degrees of freedom");
        double limit = 4 / Math.sqrt(n);
        for (double[] pair : new double[][] {stepPair, rowPair, seedPair}) {
            double r = correlation(pair, n);
            assertTrue(Math.abs(r) < limit, "correlation " + r);
        }
    }

    private static void accumulate(double[] acc, double x, double y) {
        acc[0] += x;
        acc[1] += y;
        acc[2] += x * y;
        acc[3] += x * x;
        acc[4] += y * y;
    }

    private static double correlation(double[] acc, int n) {
        double mx = acc[0] / n;
        double my = acc[1] / n;
        double cov = acc[2] / n - mx * my;
        return cov / Math.sqrt((acc[3] / n - mx * mx) * (acc[4] / n - my * my));
    }

    // ---- the choice ----

    private static final float[] LOGITS = {1f, 3f, 2f, 3f, -1f}; // ids 1 and 3 tie for the top

    @Test
    void greedyTakesTheLowestOfEqualMaxima() {
        assertEquals(1, LoopSampling.argmax(LOGITS, 0, 5));
        assertEquals(1, LoopSampling.sample(LOGITS, 0, 5, 0f, 0, 1f, 0.99f), "temperature 0 is greedy");
        assertEquals(1, LoopSampling.argmax(new float[] {9, 0, 0, 5, 4}, 2, 3), "offset into a batch row");
    }

    @Test
    void topKOneAndTinyTopPAreGreedy() {
        for (float u : new float[] {0f, 0.3f, 0.999f}) {
            assertEquals(1, LoopSampling.sample(LOGITS, 0, 5, 1f, 1, 1f, u));
            assertEquals(1, LoopSampling.sample(LOGITS, 0, 5, 2f, 0, 1e-7f, u));
        }
    }

    @Test
    void inverseCdfOverTheSortedDistribution() {
        // equal logits: sorted order is 0, 1, 2, 3 with probability 1/4 each
        float[] flat = {0f, 0f, 0f, 0f};
        assertEquals(0, LoopSampling.sample(flat, 0, 4, 1f, 0, 1f, 0f));
        assertEquals(0, LoopSampling.sample(flat, 0, 4, 1f, 0, 1f, 0.2499f));
        assertEquals(1, LoopSampling.sample(flat, 0, 4, 1f, 0, 1f, 0.25f), "c_0 = 0.25 <= u moves on");
        assertEquals(2, LoopSampling.sample(flat, 0, 4, 1f, 0, 1f, 0.6f));
        assertEquals(3, LoopSampling.sample(flat, 0, 4, 1f, 0, 1f, 1f - 0x1p-24f));
        // top-k 2 keeps ids 0, 1: u = 0.6 now lands on the second
        assertEquals(1, LoopSampling.sample(flat, 0, 4, 1f, 2, 1f, 0.6f));
        // top-p 0.5: exclusive sums 0, .25, .5, .75 -> keep entries with sum < .5, ids 0 and 1
        assertEquals(1, LoopSampling.sample(flat, 0, 4, 1f, 0, 0.5f, 0.6f));
        assertEquals(0, LoopSampling.sample(flat, 0, 4, 1f, 0, 0.5f, 0.4f));
        // ties sort by id: 1 before 3
        assertEquals(1, LoopSampling.sample(LOGITS, 0, 5, 1f, 2, 1f, 0.1f));
        assertEquals(3, LoopSampling.sample(LOGITS, 0, 5, 1f, 2, 1f, 0.9f));
    }

    @Test
    void temperatureSharpensAndFlattens() {
        float[] two = {0f, 1f}; // p(1) = e / (1 + e) = 0.731 at temperature 1
        assertEquals(1, LoopSampling.sample(two, 0, 2, 1f, 0, 1f, 0.7f));
        assertEquals(0, LoopSampling.sample(two, 0, 2, 1f, 0, 1f, 0.75f));
        assertEquals(1, LoopSampling.sample(two, 0, 2, 0.1f, 0, 1f, 0.99f), "cold: almost always the best");
        assertEquals(0, LoopSampling.sample(two, 0, 2, 100f, 0, 1f, 0.51f), "hot: almost a coin");
    }

    @Test
    void suppressedTokensAreNeverDrawn() {
        float[] logits = {Float.NEGATIVE_INFINITY, 0f, 0f};
        for (float u : new float[] {0f, 0.5f, 1f - 0x1p-24f}) {
            int token = LoopSampling.sample(logits, 0, 3, 1f, 0, 1f, u);
            assertTrue(token == 1 || token == 2, "token " + token);
        }
    }
}
