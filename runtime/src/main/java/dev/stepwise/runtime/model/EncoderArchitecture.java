package dev.stepwise.runtime.model;

import dev.stepwise.runtime.export.DummyInputs;

/**
 * The service through which the runtime finds an encoder-only architecture by {@code model_type}; the processor
 * generates one ({@code <Arch>Exporter}) per {@code @EncoderConfig} class and registers it in
 * {@code META-INF/services}.
 */
public interface EncoderArchitecture {
    EncoderSpec spec();

    /** A new instance of the annotated model class. */
    EncoderModel newModel();

    /** Validation inputs: {@code batch} rows of {@code sequence} tokens, rows after the first right-padded. */
    DummyInputs dummyInputs(ModelConfig config, int batch, int sequence, long seed);
}
