package dev.stepwise.runtime.unroll;

/**
 * One step of the chained check: max abs difference of the step graph's logits and presents from the dynamic
 * decoder's, and whether both chose the same greedy tokens.
 */
public record StepCheck(int step, double logitsMaxAbsDiff, double presentsMaxAbsDiff, boolean sameTokens, double atol) {
    public boolean passed() {
        return logitsMaxAbsDiff <= atol && presentsMaxAbsDiff <= atol && sameTokens;
    }

    public String describe() {
        return String.format("gen step %d: logits max abs diff %.3g, presents max abs diff %.3g (atol %.1g), greedy tokens %s",
                step, logitsMaxAbsDiff, presentsMaxAbsDiff, atol, sameTokens ? "equal" : "DIFFER");
    }
}
