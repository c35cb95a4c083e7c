package dev.stepwise.runtime.export;

import java.util.Map;

/**
 * One validation run (e.g. "prefill, padded batch"): per output, the max abs difference ONNX Runtime vs PyTorch and
 * the largest |reference| value. An output passes when its difference is at most {@link #tolerance(String)}
 * ({@code atol + rtol × max |reference|}; {@code rtol} is 0 for float32 graphs, so the tolerance is {@code atol}).
 * With {@code rtol > 0} (a float16 graph) the greedy choice is checked as well: at every logits position whose
 * reference top-2 margin exceeds the logits' tolerance, the graph must pick the reference's token.
 */
public record ValidationCase(String name, Map<String, Double> maxAbsDiff, double atol, double rtol,
                             Map<String, Double> maxAbsReference, int argmaxCompared, int argmaxAgreed) {

    /** An absolute-tolerance case (float32 graphs). */
    public ValidationCase(String name, Map<String, Double> maxAbsDiff, double atol) {
        this(name, maxAbsDiff, atol, 0, Map.of(), 0, 0);
    }

    /** The allowed max abs difference of one output. */
    public double tolerance(String output) {
        return atol + rtol * maxAbsReference.getOrDefault(output, 0.0);
    }

    public boolean passed() {
        return argmaxAgreed == argmaxCompared
                && maxAbsDiff.entrySet().stream().allMatch(e -> e.getValue() <= tolerance(e.getKey()));
    }

    public double worst() {
        return maxAbsDiff.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }

    /** The largest difference relative to its output's max |reference| (0 when magnitudes were not recorded). */
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
