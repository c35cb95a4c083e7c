package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Beam search with transformers' semantics (BeamSearchScorer / BeamHypotheses), over any {@link StepModel} whose rows
 * are {@code batch × num_beams} (prompt {@code b}'s beam {@code k} is row {@code b * num_beams + k}).
 *
 * <p>Per step: every row's logits go through log-softmax, then the processors (repetition penalty, no-repeat-n-gram,
 * eos suppressed below min_new_tokens), then the row's running beam score is added (float32). Beam 0 of each prompt
 * starts at 0, the others at −1e9, so the first step expands one beam. For each prompt the best
 * {@code max(2, 1 + #eos) × num_beams} (score, beam, token) candidates over all its beams are taken (score descending;
 * equal scores by ascending {@code beam × vocab + token}). Walking them in that order: a candidate whose token is an
 * eos id becomes a finished hypothesis if it ranks among the first num_beams (and is dropped otherwise); any other
 * candidate becomes the next running beam, until num_beams running beams are chosen. A finished hypothesis is kept
 * in the prompt's best-num_beams list with score {@code sum_logprobs / length ** length_penalty} (which length: see
 * {@link BeamOptions.Convention}). A prompt is done by the {@link BeamOptions.EarlyStopping} rule; a done prompt's rows
 * keep running on pad tokens (as in transformers) but change nothing. The search ends when every prompt is done or
 * max_new_tokens were generated; then every running beam of a prompt not done is offered to its list as a
 * hypothesis, and each prompt returns its best num_return_sequences hypotheses, best first: prompt, generated tokens,
 * and the eos that ended it if one did.
 */
final class BeamSearch {
    private final GenerationConfig config;
    private final BeamOptions options;
    private final Set<Long> eos;
    private final long pad;
    private final int numBeams;

    BeamSearch(GenerationConfig config, BeamOptions options, Set<Long> eos, long pad) {
        this.config = config;
        this.options = options;
        this.eos = eos;
        this.pad = pad;
        this.numBeams = config.numBeams();
    }

    /**
     * @param model      rows = prompts.size() × num_beams, prompt fed, each row a copy of its prompt
     * @param prompts    real tokens of each prompt (no padding)
     * @param paddedLength the common length of the fed (left padded) prompts
     */
    List<List<long[]>> run(StepModel model, List<long[]> prompts, int paddedLength) {
        int batch = prompts.size();
        int rows = batch * numBeams;
        if (model.rows() != rows) {
            throw new IllegalStateException("model has " + model.rows() + " rows, beam search needs " + rows);
        }
        int candidates = Math.max(2, 1 + eos.size()) * numBeams;
        int maxNew = config.maxNewTokens();
        long[][] seq = new long[rows][];
        int[] len = new int[rows];
        float[] beamScores = new float[rows];
        for (int r = 0; r < rows; r++) {
            long[] p = prompts.get(r / numBeams);
            seq[r] = Arrays.copyOf(p, p.length + maxNew);
            len[r] = p.length;
            beamScores[r] = r % numBeams == 0 ? 0f : -1e9f;
        }
        Hypotheses[] hyps = new Hypotheses[batch];
        boolean[] done = new boolean[batch];
        for (int b = 0; b < batch; b++) {
            hyps[b] = new Hypotheses();
        }

        int generated = 0;
        for (int step = 0; step < maxNew; step++) {
            // Scores of every (row, token), then each prompt's best candidates.
            float[][] rowScores = new float[rows][];
            for (int r = 0; r < rows; r++) {
                float[] s = model.logits(r);
                LogitsProcessors.logSoftmax(s);
                TokenSampler.process(s, seq[r], len[r], step, config, eos);
                float add = beamScores[r];
                for (int v = 0; v < s.length; v++) {
                    s[v] = s[v] + add;
                }
                rowScores[r] = s;
            }
            Candidate[][] top = new Candidate[batch][];
            for (int b = 0; b < batch; b++) {
                top[b] = best(rowScores, b, candidates);
            }

            float[] nextScores = new float[rows];
            long[] nextTokens = new long[rows];
            int[] nextFrom = new int[rows];
            for (int b = 0; b < batch; b++) {
                if (done[b]) {
                    for (int k = 0; k < numBeams; k++) {
                        nextScores[b * numBeams + k] = 0f;
                        nextTokens[b * numBeams + k] = pad;
                        nextFrom[b * numBeams + k] = 0;
                    }
                    continue;
                }
                int chosen = 0;
                for (int j = 0; j < top[b].length && chosen < numBeams; j++) {
                    Candidate c = top[b][j];
                    int from = b * numBeams + c.beam;
                    if (eos.contains(c.token)) {
                        if (j >= numBeams) {
                            continue;
                        }
                        long[] tokens = Arrays.copyOf(seq[from], len[from] + 1);
                        tokens[len[from]] = c.token;
                        hyps[b].add(tokens, c.score, finishedLength(step, paddedLength));
                    } else {
                        int i = b * numBeams + chosen++;
                        nextScores[i] = c.score;
                        nextTokens[i] = c.token;
                        nextFrom[i] = from;
                    }
                }
                if (chosen < numBeams) {
                    throw new StepwiseException("beam search: fewer than num_beams non-eos candidates for prompt " + b);
                }
                done[b] = hyps[b].isDone(bestForDoneTest(top, b), step, paddedLength);
            }

            long[][] newSeq = new long[rows][];
            int[] newLen = new int[rows];
            for (int i = 0; i < rows; i++) {
                newSeq[i] = seq[nextFrom[i]].clone();
                newLen[i] = len[nextFrom[i]];
                newSeq[i][newLen[i]++] = nextTokens[i];
            }
            seq = newSeq;
            len = newLen;
            beamScores = nextScores;
            generated = step + 1;
            if (allTrue(done) || step == maxNew - 1) {
                break;
            }
            model.reorder(nextFrom);
            model.step(nextTokens);
        }

        List<List<long[]>> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            if (!done[b]) {
                for (int k = 0; k < numBeams; k++) {
                    int r = b * numBeams + k;
                    hyps[b].add(Arrays.copyOf(seq[r], len[r]), beamScores[r], runningLength(generated, paddedLength));
                }
            }
            out.add(hyps[b].best(config.numReturnSequences()));
        }
        return out;
    }

    /** Length that normalises a hypothesis ended by eos at this step (0-based). */
    private int finishedLength(int step, int paddedLength) {
        return options.convention() == BeamOptions.Convention.TRANSFORMERS
                ? step + 1                 // new tokens, the eos included
                : paddedLength + step;     // whole sequence before the eos
    }

    /** Length that normalises a running beam offered at the end, after {@code generated} tokens. */
    private int runningLength(int generated, int paddedLength) {
        return options.convention() == BeamOptions.Convention.TRANSFORMERS ? generated : paddedLength + generated;
    }

    /** The best candidate score the done test compares with (see {@link BeamOptions.Convention#ONNX_RUNTIME}). */
    private float bestForDoneTest(Candidate[][] top, int b) {
        if (options.convention() == BeamOptions.Convention.TRANSFORMERS) {
            return top[b][0].score;
        }
        int width = top[0].length;
        int start = b * numBeams;
        float best = Float.NEGATIVE_INFINITY;
        for (int f = start; f < start + width; f++) {
            best = Math.max(best, top[f / width][f % width].score);
        }
        return best;
    }

    private record Candidate(float score, int beam, long token, long flat) {
    }

    private static final Comparator<Candidate> BETTER_FIRST = (x, y) -> {
        int c = Float.compare(y.score, x.score);
        return c != 0 ? c : Long.compare(x.flat, y.flat);
    };

    /** The {@code count} best (beam, token) of prompt {@code b}, best first. */
    private Candidate[] best(float[][] rowScores, int b, int count) {
        Candidate[] top = new Candidate[count];
        int size = 0;
        for (int k = 0; k < numBeams; k++) {
            float[] s = rowScores[b * numBeams + k];
            for (int v = 0; v < s.length; v++) {
                float x = s[v];
                if (size == count && !(x > top[count - 1].score)) {
                    continue; // not better (equal scores keep the earlier flat index)
                }
                Candidate c = new Candidate(x, k, v, (long) k * s.length + v);
                int pos = size == count ? count - 1 : size++;
                while (pos > 0 && BETTER_FIRST.compare(c, top[pos - 1]) < 0) {
                    top[pos] = top[pos - 1];
                    pos--;
                }
                top[pos] = c;
            }
        }
        if (size < count) {
            throw new StepwiseException("beam search needs at least " + count + " candidate tokens, the vocabulary has "
                    + size);
        }
        return top;
    }

    private static boolean allTrue(boolean[] xs) {
        for (boolean x : xs) {
            if (!x) {
                return false;
            }
        }
        return true;
    }

    /** One prompt's best finished hypotheses (transformers' BeamHypotheses). */
    private final class Hypotheses {
        private final List<Hyp> beams = new ArrayList<>();
        private double worst = 1e9;
        private int added;

        private record Hyp(double score, long[] tokens, int order) {
        }

        void add(long[] tokens, float sumLogprobs, int length) {
            double score = sumLogprobs / Math.pow(length, config.lengthPenalty());
            if (beams.size() < numBeams || score > worst) {
                beams.add(new Hyp(score, tokens, added++));
                if (beams.size() > numBeams) {
                    List<Hyp> sorted = new ArrayList<>(beams);
                    sorted.sort(Comparator.comparingDouble(Hyp::score).thenComparingInt(Hyp::order));
                    beams.remove(sorted.get(0));
                    worst = sorted.get(1).score();
                } else {
                    worst = Math.min(score, worst);
                }
            }
        }

        /** Whether nothing better can come (step is 0-based, the step's candidates already processed). */
        boolean isDone(float bestSumLogprobs, int step, int paddedLength) {
            if (beams.size() < numBeams) {
                return false;
            }
            BeamOptions.EarlyStopping rule = options.earlyStopping();
            if (rule == BeamOptions.EarlyStopping.TRUE) {
                return true;
            }
            boolean hf = options.convention() == BeamOptions.Convention.TRANSFORMERS;
            int length = hf ? step + 1 : paddedLength + step;
            if (rule == BeamOptions.EarlyStopping.NEVER && config.lengthPenalty() > 0) {
                length = hf ? config.maxNewTokens() : paddedLength + config.maxNewTokens();
            }
            double highest = bestSumLogprobs / Math.pow(length, config.lengthPenalty());
            return worst >= highest;
        }

        /** The best {@code n}, best first (equal scores: the later added first, as transformers' sort-and-pop). */
        List<long[]> best(int n) {
            List<Hyp> sorted = new ArrayList<>(beams);
            sorted.sort(Comparator.comparingDouble(Hyp::score).thenComparingInt(Hyp::order).reversed());
            List<long[]> out = new ArrayList<>();
            for (int i = 0; i < n && i < sorted.size(); i++) {
                out.add(sorted.get(i).tokens());
            }
            return out;
        }
    }
}
