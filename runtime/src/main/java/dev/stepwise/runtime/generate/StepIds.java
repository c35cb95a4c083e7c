package dev.stepwise.runtime.generate;

import java.util.List;

/**
 * The id inputs of one decoder forward, flat and row-major: {@code input_ids} and {@code position_ids}
 * {@code [rows, length]}, {@code attention_mask} {@code [rows, total]} (the cache so far plus this step's tokens).
 * {@link KvDecoding} makes them, every engine's {@link DecoderStep} feeds them as its graph or forward wants.
 */
public record StepIds(long[] inputIds, long[] attentionMask, long[] positionIds, int rows, int length, int total) {
    /**
     * The prefill of {@code prompts} (each row's real tokens) left padded with {@code pad} to {@code length}: padding
     * masked, position ids following the mask (cumulative sum − 1, padded slots 1, as transformers does). The one
     * place prompts are padded, for the step loop and the whole-generation graphs alike.
     */
    public static StepIds prefill(List<long[]> prompts, int length, long pad) {
        int rows = prompts.size();
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        long[] positions = new long[rows * length];
        for (int b = 0; b < rows; b++) {
            long[] p = prompts.get(b);
            int padding = length - p.length;
            for (int t = 0; t < length; t++) {
                boolean real = t >= padding;
                ids[b * length + t] = real ? p[t - padding] : pad;
                mask[b * length + t] = real ? 1 : 0;
                positions[b * length + t] = real ? t - padding : 1;
            }
        }
        return new StepIds(ids, mask, positions, rows, length, length);
    }
}
