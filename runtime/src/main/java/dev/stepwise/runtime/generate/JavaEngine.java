package dev.stepwise.runtime.generate;

/** The {@code java} engine: opens the folder's {@code model.onnx} and runs the {@link Generator}. */
public final class JavaEngine extends GeneratorEngine {
    /** transformers' beam conventions, early stopping from the config, no streaming. */
    public JavaEngine(int threads) {
        this(threads, null, Generator.TokenListener.NONE);
    }

    /** {@code beamOptions} null = {@link BeamOptions#of(GenerationConfig)} for each request. */
    public JavaEngine(int threads, BeamOptions beamOptions, Generator.TokenListener listener) {
        super(ExportedModel::open, threads, beamOptions, listener);
    }
}
