package dev.stepwise.runtime.unroll;

/**
 * One step of the chained check: max abs difference of the step graph's logits and presents from the dynamic
 * decoder's, and whether both chose the same greedy tokens; for a seq2seq unroll, step 0 also carries the static
 * encoder's difference from the dynamic one.
 *
 * @param step               the step, from 0 (prefill)
 * @param logitsMaxAbsDiff   max abs difference of the step graph's logits from the dynamic decoder's
 * @param presentsMaxAbsDiff max abs difference of its present key/value tensors
 * @param encoderMaxAbsDiff  max abs difference of the static encoder's {@code last_hidden_state} (step 0 of a seq2seq
 *                           unroll), NaN otherwise
 * @param sameTokens         whether both chose the same greedy token for every row
 * @param atol               the tolerance the step was held to
 */
public record StepCheck(int step, double logitsMaxAbsDiff, double presentsMaxAbsDiff, double encoderMaxAbsDiff,
                        boolean sameTokens, double atol) {
    /**
     * Whether the step passed.
     *
     * @return true when every difference is within {@link #atol()} and the tokens agree
     */
    public boolean passed() {
        return logitsMaxAbsDiff <= atol && presentsMaxAbsDiff <= atol && !(encoderMaxAbsDiff > atol) && sameTokens;
    }

    /**
     * One line for the console.
     *
     * @return the step, the differences, the tolerance and whether the tokens agreed
     */
    public String describe() {
        String encoder = Double.isNaN(encoderMaxAbsDiff) ? ""
                : String.format("encoder last_hidden_state max abs diff %.3g, ", encoderMaxAbsDiff);
        return String.format("gen step %d: %slogits max abs diff %.3g, presents max abs diff %.3g (atol %.1g),"
                + " greedy tokens %s", step, encoder, logitsMaxAbsDiff, presentsMaxAbsDiff, atol,
                sameTokens ? "equal" : "DIFFER");
    }
}
