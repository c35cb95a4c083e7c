package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import dev.stepwise.runtime.generate.Generator;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code generate} on an unrolled folder: the {@link Generator} over its {@link StepGraphs} (every generation option,
 * within the unrolled shapes), streaming to the listener as the Java engine does.
 */
public final class StepGraphEngine implements GenerationEngine {
    private final int threads;
    private final BeamOptions beamOptions;
    private final Generator.TokenListener listener;

    /** {@code beamOptions} null = {@link BeamOptions#of(GenerationConfig)} for each request. */
    public StepGraphEngine(int threads, BeamOptions beamOptions, Generator.TokenListener listener) {
        this.threads = threads;
        this.beamOptions = beamOptions;
        this.listener = listener;
    }

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        try (StepGraphs graphs = StepGraphs.open(modelDir, threads)) {
            BeamOptions options = beamOptions != null ? beamOptions : BeamOptions.of(config);
            return new Generator(graphs).generate(prompts, config, options, listener);
        }
    }
}
