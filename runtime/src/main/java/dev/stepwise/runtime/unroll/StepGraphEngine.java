package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code generate} on an unrolled folder: greedy decoding through the step graphs. */
public final class StepGraphEngine implements GenerationEngine {
    private final UnrollManifest manifest;

    public StepGraphEngine(UnrollManifest manifest) {
        this.manifest = manifest;
    }

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        if (config.doSample() || config.numBeams() > 1) {
            throw new StepwiseException(modelDir + ": step graphs are run with greedy decoding only (drop --do-sample / --num-beams)");
        }
        List<List<long[]>> out = new ArrayList<>();
        for (long[] row : new StepGraphGenerator(modelDir, manifest).greedy(prompts, config.maxNewTokens())) {
            out.add(List.of(row));
        }
        return out;
    }
}
