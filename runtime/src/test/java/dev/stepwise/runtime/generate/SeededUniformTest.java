package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The seeded uniform: fixed values (for other implementations to check against), range and spread. */
class SeededUniformTest {
    @Test
    void knownValues() {
        // seed, row, step -> u; an ONNX graph computing the documented arithmetic must give these exactly
        assertEquals(EXPECTED_0_0_0, SeededUniform.draw(0, 0, 0));
        assertEquals(EXPECTED_42_1_2, SeededUniform.draw(42, 1, 2));
        assertEquals(EXPECTED_NEG_3_5, SeededUniform.draw(-7, 3, 5));
        assertEquals(SeededUniform.draw(-7, 3, 5), SeededUniform.draw(-7 + 2147483647L, 3, 5), "seed is taken mod 2^31 - 1");
        // the earlier mix draw, still computable by the loop graph for comparison
        assertEquals(0.9767515063285828, SeededUniform.mixDraw(0, 0, 0));
        assertEquals(0.4495388865470886, SeededUniform.mixDraw(42, 1, 2));
    }

    static final double EXPECTED_0_0_0 = 0.2599911093711853;
    static final double EXPECTED_42_1_2 = 0.06603604555130005;
    static final double EXPECTED_NEG_3_5 = 0.6040856242179871;

    @Test
    void inOpenUnitIntervalExactInFloatAndSpread() {
        double sum = 0;
        int n = 0;
        int[] bins = new int[10];
        Set<Double> distinct = new HashSet<>();
        for (long seed = 0; seed < 20; seed++) {
            for (int row = 0; row < 50; row++) {
                for (int step = 0; step < 50; step++) {
                    double u = SeededUniform.draw(seed, row, step);
                    assertTrue(u > 0 && u < 1);
                    assertEquals(u, (double) (float) u, "exact in float32");
                    sum += u;
                    n++;
                    bins[(int) (u * 10)]++;
                    distinct.add(u);
                }
            }
        }
        assertEquals(0.5, sum / n, 0.01);
        for (int b : bins) {
            assertEquals(n / 10.0, b, n / 10.0 * 0.1);
        }
        assertTrue(distinct.size() > n * 0.99, "few collisions");
    }

    @Test
    void neighbouringSeedsRowsAndStepsAreUnrelated() {
        // a plain LCG seeded with s and s + 1 gives nearly equal first draws; here closeness is as rare as chance
        int close = 0;
        for (long i = 0; i < 1000; i++) {
            close += Math.abs(SeededUniform.draw(i, 0, 0) - SeededUniform.draw(i + 1, 0, 0)) < 1e-3 ? 1 : 0;
            close += Math.abs(SeededUniform.draw(7, i, 0) - SeededUniform.draw(7, i + 1, 0)) < 1e-3 ? 1 : 0;
            close += Math.abs(SeededUniform.draw(7, 0, i) - SeededUniform.draw(7, 0, i + 1)) < 1e-3 ? 1 : 0;
        }
        assertTrue(close <= 15, close + " of 3000 neighbouring pairs closer than 1e-3 (chance: about 6)");
    }
}
