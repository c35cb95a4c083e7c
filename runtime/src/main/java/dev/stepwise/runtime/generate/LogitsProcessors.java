package dev.stepwise.runtime.generate;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;

/**
 * The score processors and warpers of one row, in place on a {@code float[vocab]}, with transformers' meanings
 * (RepetitionPenaltyLogitsProcessor, NoRepeatNGramLogitsProcessor, MinNewTokensLengthLogitsProcessor,
 * TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper). Scores stay float32 like PyTorch's; sums are taken
 * in double. A removed token gets {@code -inf}.
 *
 * <p>{@code tokens} is the row's text so far: its prompt without left padding, then the generated tokens. (transformers
 * also feeds the left padding of a padded batch to the repetition and n-gram processors; Stepwise does not, so a
 * padded row generates what it generates alone.)
 */
public final class LogitsProcessors {
    private LogitsProcessors() {
    }

    /**
     * CTRL-style penalty on every token already in {@code tokens[0, length)}: a negative score is multiplied by the
     * penalty, a positive one divided by it.
     */
    public static void repetitionPenalty(float[] scores, long[] tokens, int length, double penalty) {
        if (penalty == 1.0) {
            return;
        }
        float p = (float) penalty;
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < length; i++) {
            long t = tokens[i];
            if (t >= 0 && t < scores.length && seen.add(t)) {
                float s = scores[(int) t];
                scores[(int) t] = s < 0 ? s * p : s / p;
            }
        }
    }

    /**
     * Bans every token that would complete an n-gram already present in {@code tokens[0, length)}: the last
     * {@code n - 1} tokens are matched against every earlier n-gram's first {@code n - 1} tokens.
     */
    public static void noRepeatNgram(float[] scores, long[] tokens, int length, int n) {
        if (n <= 0 || length + 1 < n) {
            return;
        }
        int prefixStart = length - (n - 1);
        for (int start = 0; start + n <= length; start++) {
            boolean match = true;
            for (int i = 0; i < n - 1 && match; i++) {
                match = tokens[start + i] == tokens[prefixStart + i];
            }
            if (match) {
                long banned = tokens[start + n - 1];
                if (banned >= 0 && banned < scores.length) {
                    scores[(int) banned] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    /** Sets every listed token to {@code -inf} (eos while fewer than min_new_tokens were generated). */
    public static void suppress(float[] scores, Collection<Long> ids) {
        for (long id : ids) {
            if (id >= 0 && id < scores.length) {
                scores[(int) id] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** Divides every score by the temperature. */
    /** Only {@code id} may be chosen: every other score {@code -inf}, its own 0 (transformers' forced tokens). */
    public static void force(float[] scores, long id) {
        if (id >= scores.length) {
            throw new dev.stepwise.runtime.StepwiseException("forced token id " + id + " is outside the vocabulary of " + scores.length);
        }
        Arrays.fill(scores, Float.NEGATIVE_INFINITY);
        scores[(int) id] = 0f;
    }

    public static void temperature(float[] scores, double temperature) {
        if (temperature == 1.0) {
            return;
        }
        float t = (float) temperature;
        for (int v = 0; v < scores.length; v++) {
            scores[v] = scores[v] / t;
        }
    }

    /**
     * Keeps the tokens whose score is at least the k-th largest score (so tokens tied with the k-th are all kept,
     * as {@code scores < topk(scores, k)[-1]} keeps them in transformers); {@code k = 0} is off.
     */
    public static void topK(float[] scores, int k) {
        if (k <= 0 || k >= scores.length) {
            return;
        }
        float[] sorted = scores.clone();
        Arrays.sort(sorted);
        float threshold = sorted[sorted.length - k];
        for (int v = 0; v < scores.length; v++) {
            if (scores[v] < threshold) {
                scores[v] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * Nucleus filtering: tokens are ordered by ascending score (equal scores by ascending token id), their softmax
     * probabilities summed in that order, and every token whose running sum is at most {@code 1 - p} is removed; the
     * most likely token always stays. {@code p = 1} is off.
     */
    public static void topP(float[] scores, double p) {
        if (p >= 1.0) {
            return;
        }
        Integer[] order = ascendingOrder(scores);
        double[] probs = softmax(scores);
        double cumulative = 0;
        double limit = 1.0 - p;
        for (int i = 0; i < order.length - 1; i++) {
            int v = order[i];
            cumulative += probs[v];
            if (cumulative <= limit) {
                scores[v] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** In place: {@code scores - max - log(sum(exp(scores - max)))}, rounded to float. */
    public static void logSoftmax(float[] scores) {
        float max = max(scores);
        if (max == Float.NEGATIVE_INFINITY) {
            return;
        }
        double sum = 0;
        for (float s : scores) {
            sum += Math.exp((double) s - max);
        }
        double logSum = Math.log(sum);
        for (int v = 0; v < scores.length; v++) {
            scores[v] = (float) ((double) scores[v] - max - logSum);
        }
    }

    /** Probabilities in double; {@code -inf} scores get 0. */
    public static double[] softmax(float[] scores) {
        float max = max(scores);
        double[] p = new double[scores.length];
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(p, 1.0 / scores.length);
            return p;
        }
        double sum = 0;
        for (int v = 0; v < scores.length; v++) {
            p[v] = Math.exp((double) scores[v] - max);
            sum += p[v];
        }
        for (int v = 0; v < scores.length; v++) {
            p[v] /= sum;
        }
        return p;
    }

    static float max(float[] scores) {
        float m = Float.NEGATIVE_INFINITY;
        for (float s : scores) {
            if (s > m) {
                m = s;
            }
        }
        return m;
    }

    private static Integer[] ascendingOrder(float[] scores) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(scores[a], scores[b]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        return order;
    }
}
