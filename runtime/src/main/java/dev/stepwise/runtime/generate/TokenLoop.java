package dev.stepwise.runtime.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Greedy decoding and sampling over a {@link StepModel}: one token per unfinished row per step, chosen by
 * {@link TokenSampler}; a row ends at eos (which it keeps) or after max_new_tokens; finished rows are fed the pad id
 * until every row has finished.
 */
final class TokenLoop {
    private TokenLoop() {
    }

    /**
     * @param model   the rows' prompts already fed
     * @param rows    each row's real prompt tokens (no padding)
     * @return per row: prompt + generated tokens
     */
    static List<long[]> run(StepModel model, List<long[]> rows, GenerationConfig config, Set<Long> eos, long pad,
                            Generator.TokenListener listener) {
        int n = rows.size();
        int maxNew = config.maxNewTokens();
        long[][] seq = new long[n][];
        int[] len = new int[n];
        for (int r = 0; r < n; r++) {
            seq[r] = Arrays.copyOf(rows.get(r), rows.get(r).length + maxNew);
            len[r] = rows.get(r).length;
        }
        boolean[] finished = new boolean[n];
        long[] next = new long[n];
        for (int step = 0; step < maxNew; step++) {
            if (step > 0) {
                model.step(next);
            }
            boolean all = true;
            for (int r = 0; r < n; r++) {
                if (finished[r]) {
                    next[r] = pad;
                    continue;
                }
                long token = TokenSampler.next(model.logits(r), seq[r], len[r], step, config, eos, r);
                next[r] = token;
                seq[r][len[r]++] = token;
                listener.onToken(r, step, token);
                finished[r] = eos.contains(token);
                all &= finished[r];
            }
            if (all) {
                break;
            }
        }
        List<long[]> out = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            out.add(Arrays.copyOf(seq[r], len[r]));
        }
        return out;
    }
}
