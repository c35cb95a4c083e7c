package dev.stepwise.runtime.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.generate.SeededUniform;
import org.junit.jupiter.api.Test;

/** The draws: the default is the Java generator's; the Feistel alternative is pinned and checked for uniformity. */
class LoopSamplingTest {

    /** (seed, row, step, final R) computed from the documented formula by an independent (Python) implementation. */
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
    void defaultDrawIsTheJavaGenerators() {
        for (long seed : new long[] {0, 7, -5, Long.MAX_VALUE}) {
            for (int row = 0; row < 5; row++) {
                for (int step = 0; step < 5; step++) {
                    assertEquals(SeededUniform.draw(seed, row, step), LoopSampling.uniform(seed, row, step));
                }
            }
        }
    }

    @Test
    void feistelMatchesTheDocumentedFormula() {
        for (long[] p : PINNED) {
            assertEquals(p[3], LoopSampling.feistelHash(p[0], p[1], p[2]), "seed " + p[0] + " row " + p[1] + " step " + p[2]);
            assertEquals(((p[3] >> 8) + 0.5) / (1 << 23), LoopSampling.feistel(p[0], p[1], p[2]));
        }
        assertEquals(LoopSampling.feistel(42, 0, 0), LoopSampling.uniform(LoopSampling.Draw.FEISTEL, 42, 0, 0));
    }

    @Test
    void feistelStaysInsideTheOpenUnitInterval() {
        for (int s = -50; s < 50; s++) {
            for (int t = 0; t < 50; t++) {
                double u = LoopSampling.feistel(s * 1_000_003L, s & 7, t);
                assertTrue(u > 0 && u < 1, "u = " + u);
                assertEquals(u, (double) (float) u * 1.0, 0x1p-25, "close to a float");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> LoopSampling.uniform(1, -1, 0));
    }

    /** Mean, 64-bin histogram, 16×16 pair histograms and correlations of neighbouring steps, rows and seeds. */
    @Test
    void feistelDrawsLookIndependentAndUniform() {
        int seeds = 20;
        int rows = 32;
        int steps = 64;
        int n = seeds * rows * steps;
        double sum = 0;
        int[] bins = new int[64];
        Pairs stepPairs = new Pairs();
        Pairs rowPairs = new Pairs();
        Pairs seedPairs = new Pairs();
        for (int s = 0; s < seeds; s++) {
            for (int r = 0; r < rows; r++) {
                for (int t = 0; t < steps; t++) {
                    double u = LoopSampling.feistel(s, r, t);
                    sum += u;
                    bins[(int) (u * 64)]++;
                    stepPairs.add(u, LoopSampling.feistel(s, r, t + 1));
                    rowPairs.add(u, LoopSampling.feistel(s, r + 1, t));
                    seedPairs.add(u, LoopSampling.feistel(s + 1, r, t));
                }
            }
        }
        assertEquals(0.5, sum / n, 4 * Math.sqrt(1.0 / 12 / n), "mean");
        assertTrue(chiSquare(bins, n) < 110, "chi-square " + chiSquare(bins, n) + " over 63 degrees of freedom");
        for (Pairs p : new Pairs[] {stepPairs, rowPairs, seedPairs}) {
            assertTrue(Math.abs(p.correlation()) < 4 / Math.sqrt(n), "correlation " + p.correlation());
            double chi = chiSquare(p.cells, n);
            assertTrue(chi < 255 + 5 * Math.sqrt(2 * 255), "pair chi-square " + chi + " over 255 degrees of freedom");
        }
    }

    /**
     * The step-to-step difference {@code (u(t+1) - u(t)) mod 1}, in 100 bins, is spread evenly: no bin above 2%.
     * (SeededUniform's differences fall into a handful of bins — 0.48 for 17% of the pairs, 0.97 for 15% — which is
     * why the Feistel draw is offered.)
     */
    @Test
    void feistelStepDifferencesAreNotConcentrated() {
        int[] bins = new int[100];
        int n = 0;
        for (int s = 0; s < 200; s++) {
            for (int r = 0; r < 8; r++) {
                for (int t = 0; t < 30; t++) {
                    double d = LoopSampling.feistel(s, r, t + 1) - LoopSampling.feistel(s, r, t);
                    bins[(int) ((d + 1) * 100) % 100]++;
                    n++;
                }
            }
        }
        for (int b = 0; b < bins.length; b++) {
            assertTrue(bins[b] < 0.02 * n, "difference bin " + b + " holds " + bins[b] + " of " + n);
        }
    }

    private static double chiSquare(int[] counts, int n) {
        double expected = (double) n / counts.length;
        double chi = 0;
        for (int c : counts) {
            chi += (c - expected) * (c - expected) / expected;
        }
        return chi;
    }

    /** Running sums for a correlation and a 16×16 histogram of (x, y). */
    private static final class Pairs {
        final int[] cells = new int[256];
        double sx;
        double sy;
        double sxy;
        double sxx;
        double syy;
        int n;

        void add(double x, double y) {
            cells[(int) (x * 16) * 16 + (int) (y * 16)]++;
            sx += x;
            sy += y;
            sxy += x * y;
            sxx += x * x;
            syy += y * y;
            n++;
        }

        double correlation() {
            double mx = sx / n;
            double my = sy / n;
            return (sxy / n - mx * my) / Math.sqrt((sxx / n - mx * mx) * (syy / n - my * my));
        }
    }
}
