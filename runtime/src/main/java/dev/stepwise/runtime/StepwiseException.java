package dev.stepwise.runtime;

/**
 * A failure the user can act on: bad input, a failed validation, a missing file. Its message is one line that names
 * what and where; the CLI prints it as is and exits with status 1.
 */
public class StepwiseException extends RuntimeException {
    public StepwiseException(String message) {
        super(oneLine(message));
    }

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
