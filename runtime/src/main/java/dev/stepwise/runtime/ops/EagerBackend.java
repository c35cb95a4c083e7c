package dev.stepwise.runtime.ops;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.WeightSource;
import java.util.ServiceLoader;

/**
 * Makes {@link EagerOps} over a checkpoint's weights. Implementations are found with {@link ServiceLoader}, so the
 * library itself does not depend on libtorch: the PyTorch reference ({@code dev.stepwise:stepwise-reference}) provides
 * one, and only programs that validate exports need it on their class path.
 */
public interface EagerBackend {
    /** Opens a backend whose weights come from {@code weights} (memory-mapped by the source, copied as needed). */
    EagerOps open(WeightSource weights);

    /** The first backend on the class path, or a one-line error saying what to add. */
    static EagerBackend find() {
        return ServiceLoader.load(EagerBackend.class, EagerBackend.class.getClassLoader()).findFirst()
                .orElseThrow(() -> new StepwiseException("validating an export needs the PyTorch reference on the class "
                        + "path (dev.stepwise:stepwise-reference); add it, or export without validation"));
    }
}
