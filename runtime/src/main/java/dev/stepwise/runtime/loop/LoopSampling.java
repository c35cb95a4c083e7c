package dev.stepwise.runtime.loop;

import dev.stepwise.runtime.generate.SeededUniform;
import dev.stepwise.runtime.generate.TokenSampler;

/**
 * How the Loop graph chooses tokens, and the uniform draws it can use. The rule is the Java generator's,
 * {@link TokenSampler} (its class comment is the specification), computed with standard ONNX operators:
 * <table>
 *   <tr><th>TokenSampler step</th><th>graph</th></tr>
 *   <tr><td>eos → −inf while {@code step < min_new_tokens}</td><td>{@code If(Less(iteration, min_new_tokens))}
 *       around {@code Where(eos_in_vocab, -inf, scores)}</td></tr>
 *   <tr><td>greedy: first index of the largest score</td><td>{@code ArgMax(select_last_index = 0)}</td></tr>
 *   <tr><td>temperature: {@code score / (float) t}</td><td>{@code Div} by the float32 {@code temperature}
 *       input</td></tr>
 *   <tr><td>top-k: remove scores below the k-th largest (ties kept), when {@code 0 < k < vocab}</td><td>{@code If}
 *       around {@code TopK(k)}, its last value as threshold, {@code Where(Less(...))}</td></tr>
 *   <tr><td>top-p: ascending order (ties by id), double softmax, remove while the running sum ≤ 1 − p, keep the
 *       most likely, when {@code p < 1}</td><td>{@code If} around {@code TopK(vocab, largest = 0)},
 *       {@code Softmax}/{@code CumSum} in double, the removed count (at most vocab − 1), ranks by
 *       {@code ScatterElements}</td></tr>
 *   <tr><td>double softmax, inverse CDF in token id order, else the last id with p &gt; 0</td><td>{@code Softmax},
 *       {@code CumSum} in double, {@code #(cdf ≤ u)}, {@code ReduceMax} of the ids with p &gt; 0</td></tr>
 * </table>
 * Both use the same float32 scores and double probabilities, so they agree token for token except when a draw lies
 * within a last-bit rounding difference of a cumulative sum (Java's and ONNX Runtime's {@code exp}/softmax may round
 * the last bit differently). {@code top_p} is a double graph input for that reason.
 *
 * <h2>The draws</h2>
 * A draw is a pure function of (seed, row, step): row of the expanded batch (prompt {@code b}'s {@code j}-th of
 * {@code R} returned sequences is row {@code b * R + j}), step counting generated tokens from 0. Two formulas are
 * available, both in int64 {@code Add}/{@code Mul}/{@code Div}/{@code Mod} only (no bitwise operators, no overflow,
 * any opset, no {@code RandomUniform}/{@code Multinomial}):
 * <ul>
 *   <li>{@link Draw#FEISTEL} (the default): {@link SeededUniform#draw}, a 4-round Feistel network modulo the prime
 *       {@code P = 2^31 − 1}; what the Java generator uses, so the loop graph and the Java generator sample the same
 *       tokens. It passes the uniformity and pair tests of {@code LoopSamplingTest}.</li>
 *   <li>{@link Draw#MIX}: {@link SeededUniform#mixDraw}, the earlier additive-mix draw, kept for comparison: its
 *       additive shifts leave visible structure (neighbouring steps and rows fail a 16×16 pair test by orders of
 *       magnitude), which made consecutive samples and the {@code num_return_sequences} samples of a prompt alike.</li>
 * </ul>
 * <pre>
 *   FEISTEL:  P = 2147483647, A = 742938285, B = 950706376, K = 1013904223
 *             f(x) = ((((x * A + K) mod P)^2 mod P) * B) mod P
 *             L = floorMod(seed, P),  R = (row * 65536 + step) mod P
 *             4 times: (L, R) = (R, (L + f(R)) mod P)
 *             u = (R div 256 + 0.5) / 2^23          in (0, 1), exact in float32 and double
 * </pre>
 */
public final class LoopSampling {
    /** Which uniform draw a loop graph computes. */
    public enum Draw {
        /** {@link SeededUniform#draw}, the Feistel draw: the Java generator's draw and the default. */
        FEISTEL,
        /** {@link SeededUniform#mixDraw}: the earlier additive-mix draw, kept for comparison. */
        MIX
    }

    /** {@link SeededUniform}'s modulus, 2^32. */
    public static final long M = 1L << 32;

    /** The Feistel draw's modulus, 2^31 − 1 (prime). */
    public static final long P = 2147483647L;
    public static final long A = 742938285L;
    public static final long B = 950706376L;
    public static final long K = 1013904223L;
    /** Rows are spaced this far apart in the right word: {@code R = row * ROW_STRIDE + step}. */
    public static final long ROW_STRIDE = 65536;
    public static final int ROUNDS = 4;

    private LoopSampling() {
    }

    /** The draw a default loop graph uses for row {@code row} at step {@code step}: {@link SeededUniform#draw}. */
    public static double uniform(long seed, int row, int step) {
        return uniform(Draw.FEISTEL, seed, row, step);
    }

    public static double uniform(Draw draw, long seed, int row, int step) {
        if (row < 0 || step < 0) {
            throw new IllegalArgumentException("row and step must be >= 0, got " + row + ", " + step);
        }
        return draw == Draw.FEISTEL ? SeededUniform.draw(seed, row, step) : SeededUniform.mixDraw(seed, row, step);
    }

    /** The Feistel draw in (0, 1): {@link SeededUniform#draw}. */
    public static double feistel(long seed, long row, long step) {
        return SeededUniform.draw(seed, row, step);
    }

    /** The Feistel network's final right word, in [0, P). */
    public static long feistelHash(long seed, long row, long step) {
        return SeededUniform.feistelHash(seed, row, step);
    }
}
