package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Greedy and seeded sampling through {@link TokenLoop} on a hash language model. */
class SamplingTest {
    static final int VOCAB = 50;
    static final long EOS = 7;
    static final List<long[]> PROMPTS = List.of(new long[] {1, 2, 3}, new long[] {4}, new long[] {5, 6, 8, 9},
            new long[] {10, 11});

    static List<long[]> run(GenerationConfig config) {
        return run(config, Generator.TokenListener.NONE);
    }

    static List<long[]> run(GenerationConfig config, Generator.TokenListener listener) {
        List<long[]> rows = Generator.expand(PROMPTS, config.doSample() ? config.numReturnSequences() : 1);
        return TokenLoop.run(new FakeLm(VOCAB, 2f, rows), rows, config, Set.of(EOS), 0, listener);
    }

    static GenerationConfig sampling(double t, int k, double p, long seed) {
        return GenerationConfig.sampling(16, t, k, p, seed);
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        List<long[]> a = run(sampling(1.0, 0, 1.0, 42));
        List<long[]> b = run(sampling(1.0, 0, 1.0, 42));
        List<long[]> c = run(sampling(1.0, 0, 1.0, 43));
        boolean differ = false;
        for (int r = 0; r < a.size(); r++) {
            assertArrayEquals(a.get(r), b.get(r), "row " + r + " reproducible");
            differ |= !Arrays.equals(a.get(r), c.get(r));
        }
        assertTrue(differ, "another seed gives other tokens");
    }

    @Test
    void topKOneIsGreedy() {
        List<long[]> greedy = run(GenerationConfig.greedy(16));
        for (long seed : new long[] {0, 1, 99}) {
            List<long[]> sampled = run(sampling(0.7, 1, 1.0, seed));
            for (int r = 0; r < greedy.size(); r++) {
                assertArrayEquals(greedy.get(r), sampled.get(r), "seed " + seed + " row " + r);
            }
        }
    }

    @Test
    void tinyTopPIsGreedy() {
        List<long[]> greedy = run(GenerationConfig.greedy(16));
        List<long[]> sampled = run(sampling(1.0, 0, 1e-6, 5));
        for (int r = 0; r < greedy.size(); r++) {
            assertArrayEquals(greedy.get(r), sampled.get(r), "row " + r);
        }
    }

    @Test
    void numReturnSequencesDrawsIndependentRows() {
        GenerationConfig config = sampling(1.5, 0, 1.0, 3).toBuilder().numReturnSequences(3).build(4);
        List<long[]> rows = run(config);
        assertEquals(PROMPTS.size() * 3, rows.size());
        for (int b = 0; b < PROMPTS.size(); b++) {
            for (int j = 0; j < 3; j++) {
                long[] s = rows.get(b * 3 + j);
                assertArrayEquals(PROMPTS.get(b), Arrays.copyOf(s, PROMPTS.get(b).length));
            }
        }
        assertFalse(Arrays.equals(rows.get(0), rows.get(1)) && Arrays.equals(rows.get(1), rows.get(2)),
                "three draws of one prompt are not all equal");
    }

    @Test
    void listenerHearsEveryTokenOnce() {
        List<long[]> heard = new ArrayList<>();
        List<long[]> out = run(sampling(1.0, 10, 0.9, 11), (row, step, token) -> heard.add(new long[] {row, step, token}));
        int total = 0;
        for (int r = 0; r < out.size(); r++) {
            int prompt = PROMPTS.get(r).length;
            for (int i = prompt; i < out.get(r).length; i++) {
                final int row = r;
                final int step = i - prompt;
                long token = out.get(r)[i];
                assertTrue(heard.stream().anyMatch(h -> h[0] == row && h[1] == step && h[2] == token),
                        "row " + r + " step " + step);
                total++;
            }
        }
        assertEquals(total, heard.size());
    }

    @Test
    void rowsStopAtEosAndMinNewTokensDelaysIt() {
        GenerationConfig greedy = GenerationConfig.greedy(30);
        List<long[]> plain = run(greedy);
        boolean sawEos = false;
        for (long[] s : plain) {
            for (int i = 0; i < s.length - 1; i++) {
                assertTrue(s[i] != EOS || i < 4, "generation stops at eos");
            }
            sawEos |= s[s.length - 1] == EOS;
        }
        assertTrue(sawEos, "some row ends with eos (pick another model scale if not)");
        List<long[]> delayed = run(greedy.toBuilder().minNewTokens(12).build(4));
        for (int r = 0; r < delayed.size(); r++) {
            long[] s = delayed.get(r);
            int prompt = PROMPTS.get(r).length;
            for (int i = prompt; i < Math.min(s.length, prompt + 12); i++) {
                assertTrue(s[i] != EOS, "no eos among the first 12 new tokens of row " + r);
            }
            assertTrue(s.length - prompt >= 12);
        }
    }

    @Test
    void anyOfSeveralEosIdsEndsARow() {
        List<long[]> plain = run(GenerationConfig.greedy(10));
        int row = -1;
        for (int r = 0; r < plain.size() && row < 0; r++) {
            int prompt = PROMPTS.get(r).length;
            if (plain.get(r).length >= prompt + 3 && plain.get(r)[prompt] != EOS && plain.get(r)[prompt + 1] != EOS) {
                row = r;
            }
        }
        assertTrue(row >= 0, "a row with three tokens before eos");
        int prompt = PROMPTS.get(row).length;
        long third = plain.get(row)[prompt + 2];
        List<long[]> rows = Generator.expand(PROMPTS, 1);
        List<long[]> out = TokenLoop.run(new FakeLm(VOCAB, 2f, rows), rows, GenerationConfig.greedy(10),
                Set.of(EOS, third), 0, Generator.TokenListener.NONE);
        long[] s = out.get(row);
        assertEquals(third, s[s.length - 1], "the row ends at the other eos id");
        assertTrue(s.length <= prompt + 3);
        assertArrayEquals(Arrays.copyOf(plain.get(row), s.length), s, "same tokens up to there");
    }

    @Test
    void noRepeatNgramHoldsWhileSampling() {
        GenerationConfig config = sampling(2.0, 0, 1.0, 8).toBuilder().noRepeatNgramSize(2).maxNewTokens(30).build(4);
        for (long[] s : run(config)) {
            for (int i = 0; i + 1 < s.length; i++) {
                for (int j = i + 1; j + 1 < s.length; j++) {
                    assertTrue(s[i] != s[j] || s[i + 1] != s[j + 1], "bigram repeated: " + Arrays.toString(s));
                }
            }
        }
    }

    @Test
    void drawsFollowTheDistribution() {
        float[] logits = {0f, 1f, 2f, -1f, 0.5f};
        double[] p = LogitsProcessors.softmax(logits);
        int n = 20000;
        int[] counts = new int[logits.length];
        for (int row = 0; row < n; row++) {
            counts[TokenSampler.inverseCdf(logits.clone(), SeededUniform.draw(1234, row, 0))]++;
        }
        for (int v = 0; v < logits.length; v++) {
            double expected = p[v] * n;
            assertTrue(Math.abs(counts[v] - expected) < 5 * Math.sqrt(expected) + 5,
                    "token " + v + ": " + counts[v] + " draws, expected about " + expected);
        }
    }
}
