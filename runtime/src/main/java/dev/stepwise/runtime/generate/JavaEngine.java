package dev.stepwise.runtime.generate;

import java.nio.file.Path;
import java.util.List;

/** The {@code java} engine: opens the folder's {@code model.onnx} and runs the {@link Generator}. */
public final class JavaEngine implements GenerationEngine {
    private final int threads;
    private final BeamOptions beamOptions;
    private final Generator.TokenListener listener;

    /** transformers' beam conventions, early stopping from the config, no streaming. */
    public JavaEngine(int threads) {
        this(threads, null, Generator.TokenListener.NONE);
    }

    /** {@code beamOptions} null = {@link BeamOptions#of(GenerationConfig)} for each request. */
    public JavaEngine(int threads, BeamOptions beamOptions, Generator.TokenListener listener) {
        this.threads = threads;
        this.beamOptions = beamOptions;
        this.listener = listener;
    }

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        try (ExportedModel model = ExportedModel.open(modelDir, threads)) {
            BeamOptions options = beamOptions != null ? beamOptions : BeamOptions.of(config);
            return new Generator(model).generate(prompts, config, options, listener);
        }
    }
}
