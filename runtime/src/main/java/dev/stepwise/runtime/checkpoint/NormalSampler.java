package dev.stepwise.runtime.checkpoint;

import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * Fast, seeded normal samples by Marsaglia and Tsang's ziggurat (256 layers): about 99% of draws cost one 64-bit
 * SplitMix64 value, a multiply and a compare, which is what lets a 124M-parameter checkpoint be written in a couple of
 * seconds. Same seed, same values, on every JVM.
 */
final class NormalSampler {
    private static final int LAYERS = 256;
    /** Where the tail begins, and the area of every layer, for 256 layers. */
    private static final double TAIL_START = 3.6541528853610088;
    private static final double LAYER_AREA = 4.92867323399e-3;
    /** Right edges of the layers, widest first; X[0] is the base layer's width as if its tail were a rectangle. */
    private static final double[] X = new double[LAYERS + 1];
    /** Unnormalised density exp(-x²/2) at each edge. */
    private static final double[] F = new double[LAYERS + 1];

    static {
        X[0] = LAYER_AREA / density(TAIL_START);
        X[1] = TAIL_START;
        for (int i = 1; i < LAYERS - 1; i++) {
            // Each layer has the same area: x[i] × (f(x[i+1]) − f(x[i])) = LAYER_AREA.
            X[i + 1] = Math.sqrt(-2 * Math.log(LAYER_AREA / X[i] + density(X[i])));
        }
        X[LAYERS] = 0;
        for (int i = 0; i <= LAYERS; i++) {
            F[i] = density(X[i]);
        }
    }

    private final SplittableRandom random;

    NormalSampler(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** A seed for one named stream, so a tensor's values depend only on the run's seed and its name. */
    static long seedFor(long seed, String name) {
        long h = 0xcbf29ce484222325L; // FNV-1a over the UTF-16 units of the name
        for (int i = 0; i < name.length(); i++) {
            h ^= name.charAt(i);
            h *= 0x100000001b3L;
        }
        return mix(seed ^ mix(h));
    }

    /** SplitMix64's finaliser: spreads close seeds (1, 2, 3) far apart. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static double density(double x) {
        return Math.exp(-0.5 * x * x);
    }

    /** One standard normal sample. */
    double next() {
        while (true) {
            long bits = random.nextLong();
            int layer = (int) bits & 0xff; // bits 0-7: layer, bit 8: sign, bits 11-63: position
            boolean negative = (bits & 0x100) != 0;
            double z = (bits >>> 11) * 0x1p-53 * X[layer];
            if (z < X[layer + 1]) {
                return negative ? -z : z; // inside the part of the layer that lies wholly under the curve
            }
            if (layer == 0) {
                double t = tail();
                return negative ? -t : t;
            }
            double y = F[layer] + random.nextDouble() * (F[layer + 1] - F[layer]);
            if (y < density(z)) {
                return negative ? -z : z;
            }
        }
    }

    /** A sample from the tail beyond TAIL_START (Marsaglia's exponential rejection). */
    private double tail() {
        double a;
        double b;
        do {
            a = -Math.log(1 - random.nextDouble()) / TAIL_START;
            b = -Math.log(1 - random.nextDouble());
        } while (b + b < a * a);
        return TAIL_START + a;
    }

    /** Fills the buffer's remaining floats with normal(mean, std). */
    void fill(FloatBuffer out, double mean, double std) {
        while (out.hasRemaining()) {
            out.put((float) (mean + std * next()));
        }
    }
}
