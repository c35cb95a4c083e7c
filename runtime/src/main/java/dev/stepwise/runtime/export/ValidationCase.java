package dev.stepwise.runtime.export;

import java.util.Map;

/** One validation run (e.g. "prefill, padded batch"): per output, the max abs difference ONNX Runtime vs PyTorch. */
public record ValidationCase(String name, Map<String, Double> maxAbsDiff, double atol) {
    public boolean passed() {
        return maxAbsDiff.values().stream().allMatch(d -> d <= atol);
    }

    public double worst() {
        return maxAbsDiff.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }
}
