package dev.stepwise.runtime.loop;

import java.util.Arrays;

/**
 * The token-choice procedure of the Loop graph, written out in Java so that any other decoder (the Java
 * {@code Generator}) can make exactly the same choices. The graph ({@link LoopGraphBuilder}) computes the same
 * steps with standard ONNX operators; this class is the specification.
 *
 * <h2>The uniform draw: a counter-based hash, not a random generator</h2>
 * The draw for batch row {@code b} (0-based row of the batch as given) at generation step {@code t} (0 = the first
 * new token, the one chosen from the prompt's logits) under seed {@code s} (any {@code long}) is a pure function of
 * {@code (s, b, t)}; no state is carried between steps, so it is the same in every runtime, run after run, whatever
 * the batch size or the number of steps. It is a 4-round Feistel network over two words in [0, P), with all
 * arithmetic on non-negative integers below 2<sup>62</sup>, so it needs only int64 {@code Add}, {@code Mul} and
 * {@code Mod} (no bitwise operators, no overflow, any opset):
 * <pre>
 *   P = 2147483647                       (2^31 - 1, prime)
 *   A = 742938285, B = 950706376, K = 1013904223
 *   f(x) = ((((x * A + K) mod P)^2 mod P) * B) mod P
 *   L = floorMod(s, P)                   (mod with the sign of the divisor: ONNX Mod fmod=0, Java Math.floorMod)
 *   R = (b * 65536 + t) mod P
 *   4 times:  (L, R) = (R, (L + f(R)) mod P)
 *   u = float32(R div 128) * 2^-24       (exact; u in [0, 1 - 2^-24])
 * </pre>
 * Seeds that are equal modulo P give equal draws, as do (b, t) pairs equal in {@code b * 65536 + t} (rows and steps
 * below 32768 and 65536 never collide). {@link #uniform(long, int, int)} computes it. (Checked: no correlation
 * between neighbouring steps, rows or seeds, and uniform pairs, over 80,000 draws.)
 *
 * <h2>The choice of a token from one row of logits</h2>
 * All values are float32; sums run left to right.
 * <ol>
 *   <li>Greedy (not sampling, or sampling with {@code temperature <= 0}): the index of the largest logit, the lowest
 *       index among equal maxima (ONNX {@code ArgMax}, {@code select_last_index = 0}).</li>
 *   <li>{@code v_i = logit_i / temperature}.</li>
 *   <li>Sort descending by {@code v}, ties by lower token id (ONNX {@code TopK}, largest, sorted), and keep the
 *       first {@code k} entries: {@code k = min(top_k, vocab)} when {@code top_k > 0}, else {@code vocab}. Unlike
 *       transformers, entries tied with the k-th value are not kept, so {@code top_k = 1} is exactly greedy.</li>
 *   <li>Top-p, only when {@code top_p < 1}: {@code q = softmax(v_0..v_{k-1})}; entry {@code j} is kept when
 *       {@code q_0 + ... + q_{j-1} < max(top_p, Float.MIN_VALUE)} (an exclusive cumulative sum; entry 0 is always
 *       kept). Kept entries form a prefix of length {@code n}. Otherwise {@code n = k}.</li>
 *   <li>{@code p = softmax} over the kept entries (the others get probability 0), {@code c_j = p_0 + ... + p_j}.</li>
 *   <li>The chosen position is {@code j* = min(#{j : c_j <= u}, n - 1)}, i.e. the first {@code j} with
 *       {@code c_j > u}, or the last kept entry when rounding leaves {@code c_{n-1} <= u}; the token is the sorted
 *       entry's id.</li>
 * </ol>
 * This is transformers' temperature → top-k → top-p → multinomial order. The Java and ONNX Runtime softmax may
 * round differently in the last bit, so the two can disagree only when {@code u} falls within a rounding error of
 * a cumulative boundary.
 *
 * <h2>Around the choice</h2>
 * Before choosing, when the step {@code t < min_new_tokens}, the logits of every eos id are set to {@code -inf}.
 * A row that has produced an eos id is finished: from the next step on its token is the pad id (its draws are
 * still computed and ignored).
 */
public final class LoopSampling {
    /** The hash's modulus, 2^31 − 1. */
    public static final long P = 2147483647L;
    public static final long A = 742938285L;
    public static final long B = 950706376L;
    public static final long K = 1013904223L;
    /** Rows are spaced this far apart in the right word: {@code R = row * ROW_STRIDE + step}. */
    public static final long ROW_STRIDE = 65536;
    public static final int ROUNDS = 4;

    private LoopSampling() {
    }

    /** The uniform draw in [0, 1) for batch row {@code row} at step {@code step} (0-based) under {@code seed}. */
    public static float uniform(long seed, int row, int step) {
        if (row < 0 || step < 0) {
            throw new IllegalArgumentException("row and step must be >= 0, got " + row + ", " + step);
        }
        return toUniform(hash(seed, row, step));
    }

    /** The integer hash in [0, P) behind {@link #uniform}. */
    public static long hash(long seed, long row, long step) {
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

    static float toUniform(long h) {
        return (float) (h >>> 7) * 0x1p-24f;
    }

    /** Index of the largest value in {@code logits[offset, offset + vocab)}, the lowest on ties. */
    public static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        float bestValue = logits[offset];
        for (int i = 1; i < vocab; i++) {
            if (logits[offset + i] > bestValue) {
                bestValue = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    /**
     * The sampled token for one row of logits ({@code logits[offset, offset + vocab)}) and draw {@code u}, by the rule
     * above. {@code temperature <= 0} picks greedily.
     */
    public static int sample(float[] logits, int offset, int vocab, float temperature, int topK, float topP, float u) {
        if (!(temperature > 0)) {
            return argmax(logits, offset, vocab);
        }
        float[] v = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            v[i] = logits[offset + i] / temperature;
        }
        int k = topK > 0 ? Math.min(topK, vocab) : vocab;
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> v[a] > v[b] ? -1 : v[a] < v[b] ? 1 : Integer.compare(a, b));
        float max = v[order[0]];
        float[] e = new float[k];
        for (int j = 0; j < k; j++) {
            e[j] = (float) Math.exp(v[order[j]] - max);
        }
        int kept = k;
        if (topP < 1) { // NaN is "off", like top_p = 1
            float cut = Math.max(topP, Float.MIN_VALUE);
            float sum = 0;
            for (int j = 0; j < k; j++) {
                sum += e[j];
            }
            float before = 0;
            kept = 0;
            for (int j = 0; j < k; j++) {
                if (!(before < cut)) {
                    break;
                }
                kept++;
                before += e[j] / sum;
            }
        }
        float sum = 0;
        for (int j = 0; j < kept; j++) {
            sum += e[j];
        }
        float cumulative = 0;
        for (int j = 0; j < kept; j++) {
            cumulative += e[j] / sum;
            if (cumulative > u) {
                return order[j];
            }
        }
        return order[kept - 1];
    }
}
