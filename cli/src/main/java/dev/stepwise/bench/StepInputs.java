package dev.stepwise.bench;

/**
 * The id inputs of one step for equal-length rows (no padding): the mask is all ones and positions simply count on.
 * Both engines build their tensors from these same arrays.
 */
record StepInputs(long[] inputIds, long[] attentionMask, long[] positionIds, int batch, int sequence, int total) {

    /** Step 0: the whole prompt after an empty past. */
    static StepInputs prefill(long[][] prompts) {
        int batch = prompts.length;
        int length = prompts[0].length;
        long[] ids = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(prompts[b], 0, ids, b * length, length);
        }
        return new StepInputs(ids, ones(batch * length), positions(batch, 0, length), batch, length, length);
    }

    /** A decode step: one new token per row after {@code past} cached positions. */
    static StepInputs decode(long[] lastTokens, int past) {
        int batch = lastTokens.length;
        return new StepInputs(lastTokens.clone(), ones(batch * (past + 1)), positions(batch, past, 1), batch, 1, past + 1);
    }

    private static long[] ones(int n) {
        long[] a = new long[n];
        java.util.Arrays.fill(a, 1);
        return a;
    }

    private static long[] positions(int batch, int start, int length) {
        long[] p = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                p[b * length + t] = start + t;
            }
        }
        return p;
    }
}
