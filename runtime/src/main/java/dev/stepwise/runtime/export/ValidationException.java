package dev.stepwise.runtime.export;

import dev.stepwise.runtime.StepwiseException;
import java.util.List;

/** An export whose outputs differ from the PyTorch reference beyond tolerance; the export is not kept. */
public final class ValidationException extends StepwiseException {
    private final transient List<ValidationCase> cases;

    public ValidationException(String message, List<ValidationCase> cases) {
        super(message);
        this.cases = List.copyOf(cases);
    }

    public List<ValidationCase> cases() {
        return cases;
    }
}
