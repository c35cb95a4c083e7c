package dev.stepwise.runtime.generate;

/**
 * The uniform number that seeded sampling draws a token with: a pure function of (seed, row, step), so a run never
 * depends on how many numbers were drawn before it, and so a graph can compute the same number with standard ONNX
 * integer operators ({@code Add}, {@code Mul}, {@code Div}, {@code Mod} on int64; opset 13 is enough, no bitwise
 * operators, no {@code RandomUniform}). The ONNX Loop graph computes exactly this number.
 *
 * <p>{@link #draw} is a 4-round Feistel network over the prime field of P = 2^31 − 1:
 * <pre>
 * P = 2147483647, A = 742938285, B = 950706376, K = 1013904223
 * f(x) = ((((x * A + K) mod P)^2 mod P) * B) mod P
 * L = floorMod(seed, P),  R = (row * 65536 + step) mod P
 * 4 times: (L, R) = (R, (L + f(R)) mod P)
 * u = (R div 256 + 0.5) / 2^23          in (0, 1); (2m + 1) / 2^24 with m < 2^23: exact in float32 and float64
 * </pre>
 * Products stay below 2^62, so int64 never overflows. {@code row} is the row of the (expanded) batch — prompt
 * {@code b}'s {@code j}-th returned sequence is row {@code b * R + j} — and {@code step} counts generated tokens from 0.
 * It replaced an earlier additive-mix draw ({@link #mixDraw}, still computable by the loop graph for comparison)
 * whose neighbouring steps were strongly correlated, which made consecutive samples alike.
 *
 * <p>The earlier mix draw, for reference:
 * <p>All arithmetic is on non-negative 64-bit integers and never overflows: every value is reduced to
 * {@code [0, 2^32)} and every multiplier is below {@code 2^31}, so a product stays below {@code 2^63}. With
 * {@code M = 2^32} and integer division {@code /} (operands are non-negative, so it is floor division):
 * <pre>
 * mix(x):  x = (x + 2654435769) mod M      (0x9E3779B9)
 *          x = (x * 2146121005) mod M      (0x7FEB352D)
 *          x = (x + x / 32768)  mod M      (x / 2^15)
 *          x = (x * 739982445)  mod M      (0x2C1B3C6D)
 *          x = (x + x / 4096)   mod M      (x / 2^12)
 *          x = (x * 695872825)  mod M      (0x297A2D39)
 *          x = (x + x / 32768)  mod M
 * h = mix((mix((mix(seed mod M) + row) mod M) + step) mod M)      seed mod M is floor modulo (negative seeds wrap)
 * u = (h / 512 + 0.5) / 2^23                                       the top 23 bits, centred: 0 &lt; u &lt; 1
 * </pre>
 * {@code u = (2m + 1) / 2^24} with {@code m < 2^23} has at most 24 significant bits, so it is exactly the same
 * number in float32 and float64. {@code row} is the row
 * of the (expanded) batch — prompt {@code b}'s {@code j}-th returned sequence is row {@code b * R + j} — and
 * {@code step} counts generated tokens from 0.
 */
public final class SeededUniform {
    static final long M = 1L << 32;

    private SeededUniform() {
    }

    static final long P = 2147483647L;
    static final long A = 742938285L;
    static final long B = 950706376L;
    static final long K = 1013904223L;
    static final long ROW_STRIDE = 65536;
    static final int ROUNDS = 4;

    /** The uniform in (0, 1) for this (seed, row, step). */
    public static double draw(long seed, long row, long step) {
        return ((feistelHash(seed, row, step) >>> 8) + 0.5) / (1 << 23);
    }

    /** The Feistel network's final right word, in [0, P). */
    public static long feistelHash(long seed, long row, long step) {
        long left = Math.floorMod(seed, P);
        long right = Math.floorMod(row * ROW_STRIDE + step, P);
        for (int round = 0; round < ROUNDS; round++) {
            long next = (left + f(right)) % P;
            left = right;
            right = next;
        }
        return right;
    }

    /** The Feistel round function. */
    static long f(long x) {
        long y = (x * A + K) % P;
        y = y * y % P;
        return y * B % P;
    }

    /** The earlier additive-mix draw (see the class comment); kept so the loop graph's MIX variant can be checked. */
    public static double mixDraw(long seed, long row, long step) {
        long h = mix(Math.floorMod(seed, M));
        h = mix(Math.floorMod(h + row, M));
        h = mix(Math.floorMod(h + step, M));
        return ((h >>> 9) + 0.5) / (double) (1 << 23);
    }

    /** One mixing round on a value in [0, 2^32). */
    static long mix(long x) {
        x = (x + 0x9E3779B9L) % M;
        x = (x * 0x7FEB352DL) % M;
        x = (x + x / 32768) % M;
        x = (x * 0x2C1B3C6DL) % M;
        x = (x + x / 4096) % M;
        x = (x * 0x297A2D39L) % M;
        x = (x + x / 32768) % M;
        return x;
    }
}
