package dev.stepwise.runtime.generate;

/**
 * Beam-search details that {@link GenerationConfig} has no room for.
 *
 * @param earlyStopping  transformers' {@code early_stopping}: {@code true}, {@code false} or {@code "never"}
 * @param convention     whose length normalisation and done test to follow
 */
public record BeamOptions(EarlyStopping earlyStopping, Convention convention) {

    /** When a prompt's beam search is done (transformers' {@code early_stopping} values). */
    public enum EarlyStopping {
        /** As soon as num_beams hypotheses are finished. */
        TRUE,
        /**
         * Heuristic: when num_beams hypotheses are finished and the best running candidate, normalised by the
         * current length, cannot beat the worst finished one.
         */
        FALSE,
        /**
         * Canonical: as {@link #FALSE}, but with a positive length penalty the best running candidate is normalised
         * by the longest possible length, so nothing better can still come.
         */
        NEVER;

        /**
         * The value a command line or JSON string gives.
         *
         * @param text {@code true}, {@code false} or {@code never}, any case, surrounding blanks ignored
         * @return the value
         * @throws IllegalArgumentException naming the choices, for anything else
         */
        public static EarlyStopping parse(String text) {
            return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "true" -> TRUE;
                case "false" -> FALSE;
                case "never" -> NEVER;
                default -> throw new IllegalArgumentException("early_stopping must be true, false or never, not '" + text + "'");
            };
        }
    }

    /** Whose beam-search conventions to follow; they differ only when a hypothesis ends with eos early. */
    public enum Convention {
        /**
         * transformers' BeamSearchScorer (4.36 and later, after its fix of the prompt being counted): a hypothesis' score is
         * {@code sum_logprobs / generated_len ** length_penalty} where {@code generated_len} counts the new tokens
         * including the eos that ended it (the prompt is not counted); the done test normalises the best candidate of
         * the step by the number of new tokens including the one just chosen.
         */
        TRANSFORMERS,
        /**
         * onnxruntime's BeamSearch operator (and transformers before 4.36): the length is the whole sequence — prompt
         * included, the ending eos not included; the done test normalises by the sequence length before the step's
         * token, and (as onnxruntime's CPU scorer does) takes the best candidate score from the flat window
         * {@code [b * num_beams, b * num_beams + 2 * num_beams)} of the step's {@code batch * 2 * num_beams}
         * candidate scores, which for {@code b > 0} is not prompt {@code b}'s own window.
         */
        ONNX_RUNTIME
    }

    /**
     * transformers' conventions with the config's early stopping.
     *
     * @param config generation settings
     * @return the config's early stopping ({@code true}, {@code false} or {@code never}), with
     *         {@link Convention#TRANSFORMERS}
     */
    public static BeamOptions of(GenerationConfig config) {
        return new BeamOptions(config.earlyStoppingMode(), Convention.TRANSFORMERS);
    }

    /**
     * Sets whose conventions to follow.
     *
     * @param c transformers' or ONNX Runtime's
     * @return these options with the convention changed
     */
    public BeamOptions withConvention(Convention c) {
        return new BeamOptions(earlyStopping, c);
    }
}
