package dev.stepwise.runtime.export;

import dev.stepwise.runtime.StepwiseException;
import java.util.List;

/**
 * An export whose outputs differ from the PyTorch reference beyond tolerance; nothing was written. The message names
 * the failing case, output and difference; {@link #cases()} has every case's figures.
 */
public final class ValidationException extends StepwiseException {
    private final transient List<ValidationCase> cases;

    /**
     * A failed validation.
     *
     * @param message the one-line message: the failing case, output, difference and tolerance
     * @param cases   every case that was run, passed or not
     */
    public ValidationException(String message, List<ValidationCase> cases) {
        super(message);
        this.cases = List.copyOf(cases);
    }

    /**
     * The validation cases that were run.
     *
     * @return every case, passed or not, in the order they ran
     */
    public List<ValidationCase> cases() {
        return cases;
    }
}
