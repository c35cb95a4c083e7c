package dev.stepwise.runtime;

/**
 * A failure the user can act on: bad input, a failed validation or quality gate, a missing file. Its message is one
 * line that names what and where (for example {@code out/generation_config.json: top_p must be a number, found "x"}),
 * fit to show a user as it is; the CLI prints it and exits with status 1. Unchecked, as every facade method may throw
 * it. Subclasses say more: {@link dev.stepwise.runtime.export.ValidationException} (an export differs from the PyTorch
 * reference) and {@link dev.stepwise.runtime.generate.UnsupportedOptionException} (an engine cannot honour a setting).
 */
public class StepwiseException extends RuntimeException {
    /**
     * A failure with a message; control characters in it are written as backslash-u escapes, so it stays
     * one line whatever input it quotes.
     *
     * @param message what went wrong and where
     */
    public StepwiseException(String message) {
        super(oneLine(message));
    }

    /**
     * A failure caused by another exception (typically an {@link java.io.IOException}); control characters in the
     * message are escaped as in {@link #StepwiseException(String)}.
     *
     * @param message what went wrong and where, usually ending with the cause's message
     * @param cause   the exception that caused it
     */
    public StepwiseException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /**
     * The message with control characters written as backslash-u escapes: a message quotes names from the input (JSON
     * keys, tensor names, parser messages), and a newline or NUL there must not break the one line (found by fuzzing
     * generation_config.json).
     */
    static String oneLine(String message) {
        if (message == null) {
            return null;
        }
        StringBuilder sb = null;
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            if (Character.isISOControl(c)) {
                if (sb == null) {
                    sb = new StringBuilder(message.length() + 8).append(message, 0, i);
                }
                sb.append(String.format("\\u%04x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? message : sb.toString();
    }
}
