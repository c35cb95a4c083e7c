package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Beam search on a hash language model, checked against exhaustive search and greedy decoding. */
class BeamSearchTest {
    static final int VOCAB = 5;
    static final long EOS = 3;
    static final long PAD = 4;

    static List<List<long[]>> beam(List<long[]> prompts, GenerationConfig config, BeamOptions options, Set<Long> eos,
                                   float scale) {
        List<long[]> rows = Generator.expand(prompts, config.numBeams());
        FakeLm lm = new FakeLm(VOCAB, scale, rows);
        int padded = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        return new BeamSearch(config, options, eos, PAD).run(lm, prompts, padded);
    }

    record Scored(long[] tokens, double score) {
    }

    /** Every sequence that ends with eos or reaches max_new_tokens, scored as the convention says. */
    static List<Scored> exhaustive(long[] prompt, int maxNew, double lengthPenalty, BeamOptions.Convention convention) {
        List<Scored> out = new ArrayList<>();
        walk(prompt, prompt.length, 0f, maxNew, lengthPenalty, convention, out);
        out.sort(Comparator.comparingDouble(Scored::score).reversed());
        return out;
    }

    private static void walk(long[] seq, int promptLength, float sum, int maxNew, double lp,
                             BeamOptions.Convention convention, List<Scored> out) {
        int generated = seq.length - promptLength;
        float[] logp = FakeLm.logitsAfter(seq, VOCAB, 3f);
        LogitsProcessors.logSoftmax(logp);
        for (int v = 0; v < VOCAB; v++) {
            float s = sum + logp[v];
            long[] next = Arrays.copyOf(seq, seq.length + 1);
            next[seq.length] = v;
            boolean hf = convention == BeamOptions.Convention.TRANSFORMERS;
            if (v == EOS) {
                int length = hf ? generated + 1 : promptLength + generated;
                out.add(new Scored(next, s / Math.pow(length, lp)));
            } else if (generated + 1 == maxNew) {
                int length = hf ? maxNew : promptLength + maxNew;
                out.add(new Scored(next, s / Math.pow(length, lp)));
            } else {
                walk(next, promptLength, s, maxNew, lp, convention, out);
            }
        }
    }

    @Test
    void wideCanonicalBeamSearchFindsTheExhaustiveBest() {
        List<long[]> prompts = List.of(new long[] {0, 1, 2}, new long[] {2, 2}, new long[] {1, 0, 4, 2});
        for (BeamOptions.Convention convention : BeamOptions.Convention.values()) {
            for (double lp : new double[] {1.0, 0.5, 2.0, -1.0}) {
                int beams = 25;
                int returned = 6;
                GenerationConfig config = GenerationConfig.beamSearch(3, beams, lp, false, returned);
                BeamOptions options = new BeamOptions(BeamOptions.EarlyStopping.NEVER, convention);
                List<List<long[]>> got = beam(prompts, config, options, Set.of(EOS), 3f);
                // the padded length counts for onnxruntime's convention: compare each prompt alone there
                for (int b = 0; b < prompts.size(); b++) {
                    List<List<long[]>> alone = beam(List.of(prompts.get(b)), config, options, Set.of(EOS), 3f);
                    List<Scored> expected = exhaustive(prompts.get(b), 3, lp, convention);
                    for (int j = 0; j < returned; j++) {
                        String what = convention + " lp " + lp + " prompt " + b + " rank " + j;
                        assertArrayEquals(expected.get(j).tokens(), alone.get(0).get(j), what);
                        if (convention == BeamOptions.Convention.TRANSFORMERS) {
                            assertArrayEquals(expected.get(j).tokens(), got.get(b).get(j), what + " (batched)");
                        }
                    }
                }
            }
        }
    }

    @Test
    void oneBeamIsGreedy() {
        List<long[]> prompts = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            prompts.add(new long[] {i % VOCAB, (i * 7) % VOCAB, (i * 3 + 1) % VOCAB});
        }
        GenerationConfig greedy = GenerationConfig.greedy(8);
        List<long[]> expected = TokenLoop.run(new FakeLm(VOCAB, 1.5f, prompts), prompts, greedy, Set.of(EOS), PAD,
                Generator.TokenListener.NONE);
        boolean sawEos = false;
        for (BeamOptions.Convention convention : BeamOptions.Convention.values()) {
            for (BeamOptions.EarlyStopping es : BeamOptions.EarlyStopping.values()) {
                if (es == BeamOptions.EarlyStopping.NEVER) {
                    continue; // "never" keeps searching after the greedy path's eos
                }
                GenerationConfig config = GenerationConfig.beamSearch(8, 1, 1.0, false, 1);
                BeamOptions options = new BeamOptions(es, convention);
                List<List<long[]>> batched = beam(prompts, config, options, Set.of(EOS), 1.5f);
                for (int b = 0; b < prompts.size(); b++) {
                    // onnxruntime's done test reads a window that is not the prompt's own for b > 0: one prompt at a time
                    long[] got = convention == BeamOptions.Convention.TRANSFORMERS ? batched.get(b).get(0)
                            : beam(List.of(prompts.get(b)), config, options, Set.of(EOS), 1.5f).get(0).get(0);
                    assertArrayEquals(expected.get(b), got, convention + " " + es + " row " + b);
                    sawEos |= expected.get(b)[expected.get(b).length - 1] == EOS;
                }
            }
        }
        assertTrue(sawEos, "some greedy row ends with eos");
    }

    @Test
    void resultsAreBestFirstAndFinishedOnesEndWithEos() {
        List<long[]> prompts = List.of(new long[] {0, 1}, new long[] {2});
        GenerationConfig config = GenerationConfig.beamSearch(6, 4, 1.0, false, 4);
        List<List<long[]>> got = beam(prompts, config, BeamOptions.of(config), Set.of(EOS), 2f);
        assertEquals(2, got.size());
        for (int b = 0; b < prompts.size(); b++) {
            assertEquals(4, got.get(b).size());
            double previous = Double.POSITIVE_INFINITY;
            for (long[] s : got.get(b)) {
                long[] p = prompts.get(b);
                assertArrayEquals(p, Arrays.copyOf(s, p.length), "starts with its prompt");
                int generated = s.length - p.length;
                assertTrue(generated >= 1 && generated <= 6);
                for (int i = p.length; i < s.length - 1; i++) {
                    assertTrue(s[i] != EOS, "eos only at the end");
                }
                if (generated < 6) {
                    assertEquals(EOS, s[s.length - 1], "a short sequence ended with eos");
                }
                double score = score(s, p.length);
                assertTrue(score <= previous + 1e-6, "best first");
                previous = score;
            }
        }
    }

    /** transformers' score of a returned sequence. */
    private static double score(long[] s, int promptLength) {
        float sum = 0;
        for (int i = promptLength; i < s.length; i++) {
            float[] logp = FakeLm.logitsAfter(Arrays.copyOf(s, i), VOCAB, 2f);
            LogitsProcessors.logSoftmax(logp);
            sum += logp[(int) s[i]];
        }
        return sum / (double) (s.length - promptLength);
    }

    @Test
    void earlyStoppingTrueStopsAtNumBeamsFinishedHypotheses() {
        List<long[]> prompts = List.of(new long[] {1, 2, 0});
        GenerationConfig config = GenerationConfig.beamSearch(12, 2, 1.0, true, 2);
        List<List<long[]>> got = beam(prompts, config, BeamOptions.of(config), Set.of(EOS), 1f);
        for (long[] s : got.get(0)) {
            assertEquals(EOS, s[s.length - 1], "with early_stopping=true both returned beams finished with eos");
        }
    }

    @Test
    void severalEosIdsEachEndAHypothesis() {
        List<long[]> prompts = List.of(new long[] {0}, new long[] {1, 1});
        GenerationConfig config = GenerationConfig.beamSearch(10, 3, 1.0, false, 3);
        List<List<long[]>> got = beam(prompts, config, BeamOptions.of(config), Set.of(EOS, 2L), 1f);
        for (List<long[]> sequences : got) {
            for (long[] s : sequences) {
                for (int i = 0; i < s.length - 1; i++) {
                    if (i >= 2) {
                        assertTrue(s[i] != EOS && s[i] != 2, "no eos inside: " + Arrays.toString(s));
                    }
                }
            }
        }
    }

    @Test
    void noRepeatNgramAndMinNewTokensHoldInBeams() {
        List<long[]> prompts = List.of(new long[] {0, 1, 2});
        GenerationConfig base = GenerationConfig.beamSearch(10, 3, 1.0, false, 3);
        GenerationConfig config = base.toBuilder().noRepeatNgramSize(2).minNewTokens(5).build(3);
        List<List<long[]>> got = beam(prompts, config, BeamOptions.of(config), Set.of(EOS), 2f);
        for (long[] s : got.get(0)) {
            assertTrue(s.length - 3 >= 5, "at least min_new_tokens: " + Arrays.toString(s));
            for (int i = 0; i + 1 < s.length; i++) {
                for (int j = i + 1; j + 1 < s.length; j++) {
                    assertTrue(s[i] != s[j] || s[i + 1] != s[j + 1], "bigram repeated: " + Arrays.toString(s));
                }
            }
        }
    }
}
