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

    /** The eos ids used when the request names none. */
    Set<Long> eosIds();

    /** The pad id used when the request names none. */
    long padId();

    /** Token ids must be below this. */
    int vocabSize();

    /** Prompt plus new tokens must fit in this many positions. */
    int maxPositions();

    /**
     * Refuses a request this source cannot run (an {@link UnsupportedOptionException} naming the option), before
     * anything runs; {@code rows} are the prompts as expanded for sampling or beams. Accepts everything by default.
     */
    default void check(List<long[]> rows, GenerationConfig config) {
    }
}
