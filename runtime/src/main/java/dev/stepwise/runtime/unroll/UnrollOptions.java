package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.export.ProgressListener;

/**
 * How to unroll ({@link dev.stepwise.runtime.Stepwise#unroll}): batch B, prompt length L and new tokens N, all fixed
 * in the graphs, then what differs from the defaults with the {@code with...} methods, each of which returns a new
 * value: {@code UnrollOptions.of(1, 32, 16).withLastTokenLogits(true)}. By default N tokens need N graphs (steps 0 …
 * N−1: prefill makes token 1, step s makes token s+1); {@code includeFinalStep} adds step N, the convention
 * max(gen_step) = N.
 *
 * @param batch            rows per call, B (at least 1)
 * @param sequence         the prompt length of prefill, L (at least 1); shorter prompts are left padded
 * @param maxNewTokens     new tokens generated, N (at least 1); the model's positions must hold L + N
 * @param opset            the ONNX opset to write, 13 to 22; 13 by default
 * @param lastTokenLogits  whether prefill computes logits for its last position only ({@code [B, 1, vocab]} rather
 *                         than {@code [B, L, vocab]}); off by default
 * @param atol             the tolerance of the chained check (max abs difference of logits and presents); NaN for the
 *                         architecture's default
 * @param validate         whether to check the chained steps against the dynamic decoder; on by default
 * @param includeFinalStep whether to write step N too (N + 1 graphs); off by default
 * @param progress         told about each step's tracing and checking; {@link ProgressListener#SILENT} by default
 */
public record UnrollOptions(int batch, int sequence, int maxNewTokens, int opset, boolean lastTokenLogits, double atol,
                            boolean validate, boolean includeFinalStep, ProgressListener progress) {

    /**
     * The options for B rows, prompts of L tokens and N new tokens, with the defaults: opset 13, full prefill logits,
     * the architecture's tolerance, validated, N graphs, no progress reports. The numbers are checked by
     * {@link dev.stepwise.runtime.Stepwise#unroll}.
     *
     * @param batch        rows per call, B
     * @param sequence     the prompt length, L
     * @param maxNewTokens new tokens, N
     * @return the options
     */
    public static UnrollOptions of(int batch, int sequence, int maxNewTokens) {
        return new UnrollOptions(batch, sequence, maxNewTokens, 13, false, Double.NaN, true, false, ProgressListener.SILENT);
    }

    /**
     * The number of step graphs written.
     *
     * @return N, or N + 1 with {@link #includeFinalStep()}
     */
    public int stepCount() {
        return includeFinalStep ? maxNewTokens + 1 : maxNewTokens;
    }

    /**
     * Sets the opset.
     *
     * @param o an ONNX opset from 13 to 22
     * @return these options with the opset changed
     */
    public UnrollOptions withOpset(int o) {
        return new UnrollOptions(batch, sequence, maxNewTokens, o, lastTokenLogits, atol, validate, includeFinalStep, progress);
    }

    /**
     * Makes prefill compute its last position's logits only, all that generation needs.
     *
     * @param l whether prefill's logits are {@code [B, 1, vocab]} (off by default)
     * @return these options with the setting changed
     */
    public UnrollOptions withLastTokenLogits(boolean l) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, l, atol, validate, includeFinalStep, progress);
    }

    /**
     * Sets the tolerance of the chained check.
     *
     * @param a the largest max abs difference allowed for logits and presents; NaN for the architecture's default
     * @return these options with the tolerance changed
     */
    public UnrollOptions withAtol(double a) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, a, validate, includeFinalStep, progress);
    }

    /**
     * Turns the chained check against the dynamic decoder on or off.
     *
     * @param v whether to check (on by default)
     * @return these options with the check turned on or off
     */
    public UnrollOptions withValidate(boolean v) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, v, includeFinalStep, progress);
    }

    /**
     * Writes step N as well, for tools that expect max(gen_step) = N.
     *
     * @param f whether to write N + 1 graphs (off by default)
     * @return these options with the setting changed
     */
    public UnrollOptions withIncludeFinalStep(boolean f) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, validate, f, progress);
    }

    /**
     * Sets the listener told about the unroll's stages.
     *
     * @param p the listener; {@link ProgressListener#SILENT} for none
     * @return these options with the listener changed
     */
    public UnrollOptions withProgress(ProgressListener p) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, validate, includeFinalStep, p);
    }
}
