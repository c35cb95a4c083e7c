package dev.stepwise.runtime.unroll;

/**
 * One step of the chained check: max abs difference of the step graph's logits and presents from the dynamic
 * decoder's, and whether both chose the same greedy tokens.
 *
 * @param step               the step, from 0 (prefill)
 * @param logitsMaxAbsDiff   max abs difference of the step graph's logits from the dynamic decoder's
 * @param presentsMaxAbsDiff max abs difference of its present key/value tensors
 * @param sameTokens         whether both chose the same greedy token for every row
 * @param atol               the tolerance the step was held to
 */
public record StepCheck(int step, double logitsMaxAbsDiff, double presentsMaxAbsDiff, boolean sameTokens, double atol) {
    /**
     * Whether the step passed.
     *
     * @return true when both differences are within {@link #atol()} and the tokens agree
     */
    public boolean passed() {
        return logitsMaxAbsDiff <= atol && presentsMaxAbsDiff <= atol && sameTokens;
    }

    /**
     * One line for the console.
     *
     * @return the step, both differences, the tolerance and whether the tokens agreed
     */
    public String describe() {
        return String.format("gen step %d: logits max abs diff %.3g, presents max abs diff %.3g (atol %.1g), greedy tokens %s",
                step, logitsMaxAbsDiff, presentsMaxAbsDiff, atol, sameTokens ? "equal" : "DIFFER");
    }
}
