package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.export.ProgressListener;

/**
 * How to unroll: batch B, prompt length L, new tokens N, opset (13 by default), whether prefill keeps only the last
 * position's logits, and the step-count convention. By default N tokens need N graphs (steps 0 … N−1: prefill makes
 * token 1, step s makes token s+1); {@code includeFinalStep} adds step N, the convention max(gen_step) = N.
 */
public record UnrollOptions(int batch, int sequence, int maxNewTokens, int opset, boolean lastTokenLogits, double atol,
                            boolean validate, boolean includeFinalStep, ProgressListener progress) {

    public static UnrollOptions of(int batch, int sequence, int maxNewTokens) {
        return new UnrollOptions(batch, sequence, maxNewTokens, 13, false, Double.NaN, true, false, ProgressListener.SILENT);
    }

    public int stepCount() {
        return includeFinalStep ? maxNewTokens + 1 : maxNewTokens;
    }

    public UnrollOptions withOpset(int o) {
        return new UnrollOptions(batch, sequence, maxNewTokens, o, lastTokenLogits, atol, validate, includeFinalStep, progress);
    }

    public UnrollOptions withLastTokenLogits(boolean l) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, l, atol, validate, includeFinalStep, progress);
    }

    public UnrollOptions withAtol(double a) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, a, validate, includeFinalStep, progress);
    }

    public UnrollOptions withValidate(boolean v) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, v, includeFinalStep, progress);
    }

    public UnrollOptions withIncludeFinalStep(boolean f) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, validate, f, progress);
    }

    public UnrollOptions withProgress(ProgressListener p) {
        return new UnrollOptions(batch, sequence, maxNewTokens, opset, lastTokenLogits, atol, validate, includeFinalStep, p);
    }
}
