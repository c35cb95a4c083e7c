package dev.stepwise.runtime;

/**
 * A failure the user can act on: bad input, a failed validation, a missing file. Its message is one line that names
 * what and where; the CLI prints it as is and exits with status 1.
 */
public class StepwiseException extends RuntimeException {
    public StepwiseException(String message) {
        super(message);
    }

    public StepwiseException(String message, Throwable cause) {
        super(message, cause);
    }
}
