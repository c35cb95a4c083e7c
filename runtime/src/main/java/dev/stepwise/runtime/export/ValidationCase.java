package dev.stepwise.runtime.export;

import java.util.Map;

/**
 * One validation run (e.g. "prefill, padded batch"): per output, the max abs difference ONNX Runtime vs PyTorch and
 * the largest |reference| value. An output passes when its difference is at most {@link #tolerance(String)}
 * ({@code atol + rtol × max |reference|}; {@code rtol} is 0 for float32 graphs, so the tolerance is {@code atol}).
 * With {@code rtol > 0} (a float16 graph) the greedy choice is checked as well: at every logits position whose
 * reference top-2 margin exceeds the logits' tolerance, the graph must pick the reference's token.
 *
 * @param name            what the case feeds, for example {@code prefill, empty past, padded batch}
 * @param maxAbsDiff      per output name, the max abs difference between ONNX Runtime's and PyTorch's values
 * @param atol            the absolute tolerance the case was held to
 * @param rtol            the relative tolerance (0 for float32 graphs)
 * @param maxAbsReference per output name, the largest |reference| value (empty when not recorded)
 * @param argmaxCompared  logits positions whose greedy choice was compared (0 unless {@code rtol > 0})
 * @param argmaxAgreed    of those, positions where the graph chose the reference's token
 */
public record ValidationCase(String name, Map<String, Double> maxAbsDiff, double atol, double rtol,
                             Map<String, Double> maxAbsReference, int argmaxCompared, int argmaxAgreed) {

    /**
     * An absolute-tolerance case (float32 graphs): no relative tolerance, no greedy check.
     *
     * @param name       what the case feeds
     * @param maxAbsDiff per output name, the max abs difference
     * @param atol       the absolute tolerance
     */
    public ValidationCase(String name, Map<String, Double> maxAbsDiff, double atol) {
        this(name, maxAbsDiff, atol, 0, Map.of(), 0, 0);
    }

    /**
     * The allowed max abs difference of one output.
     *
     * @param output an output name, such as {@code logits}
     * @return {@code atol + rtol * max |reference|} of that output
     */
    public double tolerance(String output) {
        return atol + rtol * maxAbsReference.getOrDefault(output, 0.0);
    }

    /**
     * Whether the case passed.
     *
     * @return true when every output is within its {@link #tolerance} and every compared greedy choice agreed
     */
    public boolean passed() {
        return argmaxAgreed == argmaxCompared
                && maxAbsDiff.entrySet().stream().allMatch(e -> e.getValue() <= tolerance(e.getKey()));
    }

    /**
     * The largest difference of any output.
     *
     * @return the largest value of {@link #maxAbsDiff()}, 0 when there is none
     */
    public double worst() {
        return maxAbsDiff.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }

    /**
     * The largest difference relative to its output's magnitude.
     *
     * @return the largest {@code maxAbsDiff / maxAbsReference} over the outputs, 0 when magnitudes were not recorded
     */
    public double worstRelative() {
        double worst = 0;
        for (Map.Entry<String, Double> e : maxAbsDiff.entrySet()) {
            Double scale = maxAbsReference.get(e.getKey());
            if (scale != null && scale > 0) {
                worst = Math.max(worst, e.getValue() / scale);
            }
        }
        return worst;
    }
}
