package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The processors and warpers, value by value, with transformers' meanings. */
class LogitsProcessorsTest {
    static final float NEG = Float.NEGATIVE_INFINITY;

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOfSeenTokensOnce() {
        float[] s = {2f, -2f, 3f, 1f};
        LogitsProcessors.repetitionPenalty(s, new long[] {0, 1, 1, 0, 9}, 4, 2.0);
        assertArrayEquals(new float[] {1f, -4f, 3f, 1f}, s);
    }

    @Test
    void noRepeatNgramBansTheTokenThatWouldRepeatAnNgram() {
        float[] s = {0f, 0f, 0f, 0f};
        // 1 2 3 1 2 -> the prefix "1 2" was followed by 3, so 3 is banned for n = 3
        LogitsProcessors.noRepeatNgram(s, new long[] {1, 2, 3, 1, 2}, 5, 3);
        assertArrayEquals(new float[] {0f, 0f, 0f, NEG}, s);
        float[] t = {0f, 0f, 0f, 0f};
        // n = 2: after the last token 2, token 3 followed 2 before
        LogitsProcessors.noRepeatNgram(t, new long[] {1, 2, 3, 1, 2}, 5, 2);
        assertArrayEquals(new float[] {0f, 0f, 0f, NEG}, t);
        float[] u = {0f, 0f, 0f, 0f};
        LogitsProcessors.noRepeatNgram(u, new long[] {1, 2}, 2, 3);
        assertArrayEquals(new float[] {0f, 0f, 0f, 0f}, u, "too short to repeat anything");
    }

    @Test
    void suppressSetsEosToMinusInfinity() {
        float[] s = {1f, 2f, 3f};
        LogitsProcessors.suppress(s, List.of(0L, 2L));
        assertArrayEquals(new float[] {NEG, 2f, NEG}, s);
    }

    @Test
    void topKKeepsTiesAtTheThreshold() {
        float[] s = {1f, 3f, 2f, 2f, 0f};
        LogitsProcessors.topK(s, 2);
        assertArrayEquals(new float[] {NEG, 3f, 2f, 2f, NEG}, s);
    }

    @Test
    void topPKeepsTheSmallestNucleusAndAlwaysTheBest() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (as logs)
        float[] s = {(float) Math.log(0.5), (float) Math.log(0.25), (float) Math.log(0.125), (float) Math.log(0.125)};
        float[] a = s.clone();
        LogitsProcessors.topP(a, 0.7);
        assertEquals(NEG, a[2]);
        assertEquals(NEG, a[3]);
        assertEquals(s[1], a[1]);
        float[] b = s.clone();
        LogitsProcessors.topP(b, 0.01);
        assertArrayEquals(new float[] {s[0], NEG, NEG, NEG}, b);
        float[] c = s.clone();
        LogitsProcessors.topP(c, 0.8);
        // ascending: 0.125 (id 2), 0.125 (id 3), 0.25, 0.5; running 0.125 <= 0.2 removes id 2 only
        assertArrayEquals(new float[] {s[0], s[1], NEG, s[3]}, c);
    }

    @Test
    void temperatureDivides() {
        float[] s = {1f, -2f};
        LogitsProcessors.temperature(s, 0.5);
        assertArrayEquals(new float[] {2f, -4f}, s);
    }

    @Test
    void inverseCdfWalksTokenIdsInOrder() {
        float[] s = {(float) Math.log(0.2), NEG, (float) Math.log(0.5), (float) Math.log(0.3)};
        assertEquals(0, TokenSampler.inverseCdf(s.clone(), 0.1));
        assertEquals(2, TokenSampler.inverseCdf(s.clone(), 0.2000001));
        assertEquals(2, TokenSampler.inverseCdf(s.clone(), 0.69));
        assertEquals(3, TokenSampler.inverseCdf(s.clone(), 0.71));
        assertEquals(3, TokenSampler.inverseCdf(s.clone(), 0.9999999999), "the last token with probability");
    }

    @Test
    void logSoftmaxNormalises() {
        float[] s = {1f, 2f, 3f};
        LogitsProcessors.logSoftmax(s);
        double total = 0;
        for (float x : s) {
            total += Math.exp(x);
        }
        assertEquals(1.0, total, 1e-6);
        assertEquals(2, dev.stepwise.runtime.tensor.Argmax.of(s));
    }
}
