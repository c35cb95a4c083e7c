package dev.stepwise.bench;

import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.StepModelSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Java {@link Generator} timed as a bench engine: the prefill is the time to the first token, each decode step
 * the time between two tokens (heard by its streaming listener), so any {@link StepModelSource} (a dynamic decoder, an
 * unrolled folder) is measured through the same decoding code as {@code generate}. Eos does not end a row here: the
 * bench decodes every row to the requested length.
 */
final class GeneratorDecoder implements GreedyDecoder {
    private final String name;
    private final StepModelSource source;
    private final AutoCloseable owned;

    /** Times {@code source}; closes {@code owned} (null: nothing) with this decoder. */
    GeneratorDecoder(String name, StepModelSource source, AutoCloseable owned) {
        this.name = name;
        this.source = source.withoutEos(); // every row runs the full length, as the other bench engines do
        this.owned = owned;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DecodeRun decode(long[][] prompts, int newTokens) {
        GenerationConfig config = GenerationConfig.greedy(newTokens);
        long[] times = new long[newTokens];
        long started = System.nanoTime();
        List<long[]> rows = new Generator(source).generate(Arrays.asList(prompts), config, (row, step, token) -> {
            if (row == prompts.length - 1) {
                times[step] = System.nanoTime(); // the last row's token closes the step
            }
        }).stream().map(s -> s.get(0)).toList();
        long[] decode = new long[newTokens - 1];
        for (int s = 1; s < newTokens; s++) {
            decode[s - 1] = times[s] - times[s - 1];
        }
        long[][] tokens = new long[rows.size()][];
        for (int r = 0; r < rows.size(); r++) {
            tokens[r] = Arrays.copyOfRange(rows.get(r), prompts[r].length, rows.get(r).length);
        }
        return new DecodeRun(tokens, times[0] - started, decode);
    }

    @Override
    public void close() {
        if (owned != null) {
            try {
                owned.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close " + name + ": " + e.getMessage(), e);
            }
        }
    }
}
