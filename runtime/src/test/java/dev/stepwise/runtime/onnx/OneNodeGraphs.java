package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;

/** What the contract tests of ONNX Runtime's fused kernels share: graph inputs, random data, slices, comparisons. */
final class OneNodeGraphs {
    private OneNodeGraphs() {
    }

    static void input(GraphBuilder g, String name, int elemType, Object... dims) {
        g.addInput(GraphBuilder.tensorInfo(name, elemType, Arrays.asList(dims)));
    }

    static float[] random(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return x;
    }

    static float[] concat(float[] a, float[] b) {
        float[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static float[] tail(float[] x, int n) {
        return Arrays.copyOfRange(x, x.length - n, x.length);
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        double diff = maxDiff(expected, actual);
        assertTrue(diff <= 1e-6, what + ": max abs diff " + diff + " > 1e-6");
    }
}
