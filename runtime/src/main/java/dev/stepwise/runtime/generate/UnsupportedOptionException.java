package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;

/**
 * A generation option the chosen engine cannot honour (beam search on the loop graph, top-k on ONNX Runtime's
 * Sampling operator, more tokens than an unrolled folder has steps). The message names the option and the engine;
 * the CLI treats it as a usage error (exit status 2), since another engine or other flags would work.
 */
public final class UnsupportedOptionException extends StepwiseException {
    /**
     * An option the engine cannot honour; the message is {@code <option> is not supported by the <engine> engine:
     * <reason>}.
     *
     * @param engine the engine's name, such as {@code step-graph}
     * @param option the option with its value, such as {@code max_new_tokens 40}
     * @param reason why, and what would work instead
     */
    public UnsupportedOptionException(String engine, String option, String reason) {
        super(option + " is not supported by the " + engine + " engine: " + reason);
    }
}
