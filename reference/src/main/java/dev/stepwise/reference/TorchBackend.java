package dev.stepwise.reference;

import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.ops.EagerBackend;
import dev.stepwise.runtime.ops.EagerOps;

/** Registers {@link TorchOps} as the library's eager backend (found with {@code ServiceLoader}). */
public final class TorchBackend implements EagerBackend {
    @Override
    public EagerOps open(WeightSource weights) {
        return new TorchOps(weights);
    }
}
