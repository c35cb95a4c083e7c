package dev.stepwise.runtime.generate;

/**
 * What a decoding loop needs from a model: next-token logits per row after the tokens fed so far, one more token
 * per row, and (for beam search) a reordering of the rows. The prompt was fed when the model was made (by
 * {@link StepModelSource#start}). Not thread-safe: one generation owns it and closes it.
 */
public interface StepModel extends AutoCloseable {
    /** Rows of the batch (prompts × sequences per prompt). */
    int rows();

    /** Logits of the row's next token (a fresh copy). */
    float[] logits(int row);

    /** Feeds one token per row. */
    void step(long[] tokens);

    /** Row {@code i} becomes a copy of the old row {@code from[i]}. */
    void reorder(int[] from);

    /** Releases the native memory the run holds (its KV cache); nothing by default. */
    @Override
    default void close() {
    }
}
