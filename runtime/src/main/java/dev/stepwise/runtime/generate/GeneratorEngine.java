package dev.stepwise.runtime.generate;

import java.nio.file.Path;
import java.util.List;

/**
 * A {@link GenerationEngine} that opens a folder's {@link DecoderGraphs} and runs the {@link Generator} on them: the
 * {@code java} engine on an export ({@link JavaEngine}), and on an unrolled folder's step graphs.
 */
public class GeneratorEngine implements GenerationEngine {
    /** Opens a folder's graphs with {@code threads} intra-op threads (0 = one per core). */
    @FunctionalInterface
    public interface Opener {
        DecoderGraphs open(Path dir, int threads);
    }

    private final Opener opener;
    private final int threads;
    private final BeamOptions beamOptions;
    private final Generator.TokenListener listener;

    /** {@code beamOptions} null = {@link BeamOptions#of(GenerationConfig)} for each request. */
    public GeneratorEngine(Opener opener, int threads, BeamOptions beamOptions, Generator.TokenListener listener) {
        this.opener = opener;
        this.threads = threads;
        this.beamOptions = beamOptions;
        this.listener = listener;
    }

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        try (DecoderGraphs graphs = opener.open(modelDir, threads)) {
            BeamOptions options = beamOptions != null ? beamOptions : BeamOptions.of(config);
            return new Generator(graphs).generate(prompts, config, options, listener);
        }
    }
}
