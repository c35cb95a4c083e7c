package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.stepwise.runtime.StepwiseException;
import org.junit.jupiter.api.Test;

class BenchOptionsTest {
    @Test
    void defaultsAreTheIssuesShapes() {
        BenchOptions o = BenchOptions.defaults();

        assertEquals(1, o.batchSize());
        assertEquals(32, o.promptLength());
        assertEquals(32, o.newTokens());
        assertEquals(31, o.decodeSteps());
        assertEquals(Runtime.getRuntime().availableProcessors(), o.threads());
    }

    @Test
    void rejectsNonsense() {
        assertThrows(StepwiseException.class, () -> new BenchOptions(0, 32, 32, 1, 1, 3, 0));
        assertThrows(StepwiseException.class, () -> new BenchOptions(1, 0, 32, 1, 1, 3, 0));
        assertThrows(StepwiseException.class, () -> new BenchOptions(1, 32, 1, 1, 1, 3, 0));
        assertThrows(StepwiseException.class, () -> new BenchOptions(1, 32, 32, 0, 1, 3, 0));
        assertThrows(StepwiseException.class, () -> new BenchOptions(1, 32, 32, 1, -1, 3, 0));
        assertThrows(StepwiseException.class, () -> new BenchOptions(1, 32, 32, 1, 1, 0, 0));
    }
}
