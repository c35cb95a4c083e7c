package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.tensor.Argmax;
import java.util.Collection;

/**
 * Chooses one row's next token: greedy (argmax) or seeded sampling. This is the reference procedure that the ONNX
 * {@code Loop} graph implements too, so the two can be compared token for token.
 *
 * <p>Per row and step, on the float32 logits of the row's last position:
 * <ol>
 *   <li>processors, in transformers' order: repetition penalty over the row's tokens so far (prompt without left
 *       padding, then generated tokens), no-repeat-n-gram ban, then every eos id set to {@code -inf} while fewer
 *       than {@code min_new_tokens} tokens were generated;</li>
 *   <li>greedy stops here: the first index of the largest score;</li>
 *   <li>sampling goes on with the warpers, in transformers' order: temperature (divide), top-k (keep scores ≥ the
 *       k-th largest, ties kept), top-p (ascending score order, ties by ascending token id; drop while the running
 *       probability ≤ 1 − p; the most likely token stays);</li>
 *   <li>softmax over the vocabulary ({@code -inf} → probability 0), in double;</li>
 *   <li>inverse CDF in <em>token id order</em>: with {@code u = }{@link SeededUniform#draw SeededUniform.draw(seed,
 *       row, step)}, the chosen token is the smallest id {@code v} whose cumulative probability
 *       {@code p[0] + … + p[v]} is greater than {@code u}; if rounding leaves the total at or below {@code u}, the
 *       largest id with a non-zero probability is chosen. Token id order needs no sort, so ties in probability
 *       cannot change the result; a float32 graph (CumSum, then counting entries ≤ u) agrees except when {@code u}
 *       lies within rounding of a cumulative sum.</li>
 * </ol>
 * {@code row} is the row of the expanded batch (prompt {@code b}'s {@code j}-th of {@code R} returned sequences is row
 * {@code b * R + j}); {@code step} counts generated tokens from 0. A row that has finished draws nothing.
 */
public final class TokenSampler {
    private TokenSampler() {
    }

    /** Step 1: the processors, in place. */
    public static void process(float[] scores, long[] tokens, int length, int generated, GenerationConfig config,
                               Collection<Long> eosIds) {
        LogitsProcessors.repetitionPenalty(scores, tokens, length, config.repetitionPenalty());
        LogitsProcessors.noRepeatNgram(scores, tokens, length, config.noRepeatNgramSize());
        if (generated < config.minNewTokens()) {
            LogitsProcessors.suppress(scores, eosIds);
        }
        // transformers' ForcedBOS/ForcedEOS processors: every other token -inf, the forced one scored 0
        if (config.forcedBosTokenId() >= 0 && length == 1) {
            LogitsProcessors.force(scores, config.forcedBosTokenId());
        }
        if (config.forcedEosTokenId() >= 0 && generated == config.maxNewTokens() - 1) {
            LogitsProcessors.force(scores, config.forcedEosTokenId());
        }
    }

    /** Step 3: the warpers, in place. */
    public static void warp(float[] scores, GenerationConfig config) {
        LogitsProcessors.temperature(scores, config.temperature());
        LogitsProcessors.topK(scores, config.topK());
        LogitsProcessors.topP(scores, config.topP());
    }

    /** Steps 4 and 5: softmax, then the inverse-CDF draw in token id order. */
    public static int inverseCdf(float[] scores, double u) {
        double[] p = LogitsProcessors.softmax(scores);
        double cumulative = 0;
        int lastPositive = -1;
        for (int v = 0; v < p.length; v++) {
            if (p[v] > 0) {
                lastPositive = v;
                cumulative += p[v];
                if (cumulative > u) {
                    return v;
                }
            }
        }
        return lastPositive >= 0 ? lastPositive : Argmax.of(scores);
    }

    /** The whole procedure for one row: processors, then argmax or warpers + draw. */
    public static long next(float[] scores, long[] tokens, int length, int generated, GenerationConfig config,
                            Collection<Long> eosIds, int row) {
        process(scores, tokens, length, generated, config, eosIds);
        if (!config.doSample()) {
            return Argmax.of(scores);
        }
        warp(scores, config);
        return inverseCdf(scores, SeededUniform.draw(config.seed(), row, generated));
    }
}
