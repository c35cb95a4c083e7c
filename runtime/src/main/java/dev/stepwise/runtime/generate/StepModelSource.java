package dev.stepwise.runtime.generate;

import java.util.List;
import java.util.Set;

/**
 * A model the {@link Generator} can decode with: it starts one {@link StepModel} per generation and knows the ids and
 * limits every request is checked against. An exported decoder ({@link ExportedModel}) is one; an unrolled folder's
 * step graphs are another. Implementations are thread-safe: each generation gets its own step model.
 */
public interface StepModelSource {
    /**
     * Feeds the prompts and returns the running model.
     *
     * @param rows        each row's real tokens; shorter rows are left padded with {@code pad}
     * @param reorderable true when the caller will {@link StepModel#reorder} rows (beam search)
     */
    StepModel start(List<long[]> rows, long pad, boolean reorderable);

    /** The ids a request falls back on and the limits it is checked against. */
    SourceLimits limits();

    /** The eos ids used when the request names none. */
    default Set<Long> eosIds() {
        return limits().eosIds();
    }

    /** The pad id used when the request names none. */
    default long padId() {
        return limits().padId();
    }

    /** Token ids must be below this. */
    default int vocabSize() {
        return limits().vocabSize();
    }

    /** Prompt plus new tokens must fit in this many positions. */
    default int maxPositions() {
        return limits().maxPositions();
    }

    /**
     * Refuses a request this source cannot run (an {@link UnsupportedOptionException} naming the option), before
     * anything runs; {@code rows} are the prompts as expanded for sampling or beams. Accepts everything by default.
     */
    default void check(List<long[]> rows, GenerationConfig config) {
    }

    /**
     * This source with no eos id, so every row runs to {@code max_new_tokens} (as a benchmark decodes): the same
     * runs and checks, the other limits unchanged.
     */
    default StepModelSource withoutEos() {
        StepModelSource source = this;
        return new StepModelSource() {
            @Override
            public StepModel start(List<long[]> rows, long pad, boolean reorderable) {
                return source.start(rows, pad, reorderable);
            }

            @Override
            public SourceLimits limits() {
                SourceLimits l = source.limits();
                return new SourceLimits(Set.of(), l.padId(), l.vocabSize(), l.maxPositions());
            }

            @Override
            public void check(List<long[]> rows, GenerationConfig config) {
                source.check(rows, config);
            }
        };
    }
}
