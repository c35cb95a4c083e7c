package dev.stepwise.runtime.unroll;

/**
 * One generation step's fixed shapes. Step 0 is prefill: {@code sequence = L}, no past. Step s ≥ 1 decodes one
 * token after a past of {@code L + s − 1}; its attention mask covers {@code L + s} positions. A seq2seq unroll's decoder
 * steps are {@code GenStep.of(s, B, 1)}: the decoder's prompt is the one start token, so step s has a self past of s.
 *
 * @param index    the step, s; 0 is prefill
 * @param batch    rows, B
 * @param sequence tokens fed in this step: L for prefill, 1 after it
 * @param past     cached positions before this step: 0 for prefill, {@code L + s − 1} after it
 */
public record GenStep(int index, int batch, int sequence, int past) {

    /**
     * Step {@code index} of an unroll for {@code batch} rows and prompts of {@code promptLength} tokens.
     *
     * @param index        the step, from 0
     * @param batch        rows, B
     * @param promptLength the prompt length, L
     * @return the step's shapes
     */
    public static GenStep of(int index, int batch, int promptLength) {
        return index == 0 ? new GenStep(0, batch, promptLength, 0) : new GenStep(index, batch, 1, promptLength + index - 1);
    }

    /**
     * The positions the step's attention covers.
     *
     * @return {@code past + sequence}
     */
    public int total() {
        return past + sequence;
    }

    /**
     * Whether this is prefill.
     *
     * @return true for step 0
     */
    public boolean isPrefill() {
        return index == 0;
    }

    /**
     * The step graph's file in the unrolled folder.
     *
     * @return {@code decoder_model-opt_gen_step=<index>.onnx}
     */
    public String fileName() {
        return "decoder_model-opt_gen_step=" + index + ".onnx";
    }
}
