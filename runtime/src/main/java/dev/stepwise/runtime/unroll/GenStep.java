package dev.stepwise.runtime.unroll;

/**
 * One generation step's fixed shapes. Step 0 is prefill: {@code sequence = L}, no past. Step s ≥ 1 decodes one
 * token after a past of {@code L + s − 1}; its attention mask covers {@code L + s} positions.
 */
public record GenStep(int index, int batch, int sequence, int past) {

    public static GenStep of(int index, int batch, int promptLength) {
        return index == 0 ? new GenStep(0, batch, promptLength, 0) : new GenStep(index, batch, 1, promptLength + index - 1);
    }

    public int total() {
        return past + sequence;
    }

    public boolean isPrefill() {
        return index == 0;
    }

    public String fileName() {
        return "decoder_model-opt_gen_step=" + index + ".onnx";
    }
}
