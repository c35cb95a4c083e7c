package dev.stepwise.runtime.generate;

/**
 * What a decoding loop needs from a model: next-token logits per row after the tokens fed so far, one more token
 * per row, and (for beam search) a reordering of the rows. The prompt was fed when the model was made.
 */
interface StepModel {
    int rows();

    /** Logits of the row's next token (a fresh copy). */
    float[] logits(int row);

    /** Feeds one token per row. */
    void step(long[] tokens);

    /** Row {@code i} becomes a copy of the old row {@code from[i]}. */
    void reorder(int[] from);
}
