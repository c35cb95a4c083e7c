package dev.stepwise.runtime.generate;

/**
 * One engine's half of a KV-cache decoding run: a forward over the given id inputs after the cache it holds, which
 * the forward's presents then replace. ONNX Runtime on an exported decoder or an unrolled folder, and libtorch on the
 * architecture's forward (the PyTorch reference), each implement only this; {@link KvDecoding} does the rest (left
 * padding, mask, positions, reordering rows) and the {@link Generator} the choosing of tokens.
 */
public interface DecoderStep extends AutoCloseable {
    /**
     * Runs one forward: {@code in.length()} new tokens per row after the {@code in.total() - in.length()} cached
     * positions.
     *
     * @return per row, the logits of its last position ({@code vocab} floats the caller may keep)
     */
    float[][] run(StepIds in);

    /**
     * Row {@code i} of the cache becomes a copy of old row {@code from[i]} (beam search); engines that cannot reorder
     * refuse in their source's {@link StepModelSource#check}.
     */
    void reorderCache(int[] from);

    /** Releases the cache and whatever else the run holds. */
    @Override
    void close();
}
