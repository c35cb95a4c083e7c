package dev.stepwise.runtime.model;

/**
 * The service through which the runtime finds an encoder-decoder architecture by {@code model_type}; the processor
 * generates one ({@code <Arch>Exporter}) per {@code @Seq2SeqConfig} class and registers it in
 * {@code META-INF/services}.
 */
public interface Seq2SeqArchitecture {
    Seq2SeqSpec spec();

    /** A new instance of the annotated model class. */
    Seq2SeqLm newModel();
}
