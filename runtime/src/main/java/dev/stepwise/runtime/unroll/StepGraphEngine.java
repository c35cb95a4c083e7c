package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.GeneratorEngine;

/**
 * {@code generate} on an unrolled folder: the {@link Generator} over its {@link StepGraphs} (every generation option,
 * within the unrolled shapes), streaming to the listener as the Java engine does.
 */
public final class StepGraphEngine extends GeneratorEngine {
    /** {@code beamOptions} null = {@link BeamOptions#of(GenerationConfig)} for each request. */
    public StepGraphEngine(int threads, BeamOptions beamOptions, Generator.TokenListener listener) {
        super(StepGraphs::open, threads, beamOptions, listener);
    }
}
