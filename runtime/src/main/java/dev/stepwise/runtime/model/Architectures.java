package dev.stepwise.runtime.model;

import java.util.Map;
import java.util.ServiceLoader;

/**
 * The architectures on the class path, found through {@link ServiceLoader} by their {@code model_type}: the decoders
 * through the static methods, the encoder-only and encoder-decoder ones through {@link #ENCODERS} and
 * {@link #SEQ2SEQ}.
 */
public final class Architectures {
    /** The encoder-only architectures ({@code @EncoderConfig}). */
    public static final ArchitectureRegistry<EncoderArchitecture> ENCODERS =
            new ArchitectureRegistry<>(EncoderArchitecture.class, a -> a.spec().modelType());

    /** The encoder-decoder architectures ({@code @Seq2SeqConfig}). */
    public static final ArchitectureRegistry<Seq2SeqArchitecture> SEQ2SEQ =
            new ArchitectureRegistry<>(Seq2SeqArchitecture.class, a -> a.spec().modelType());

    private static final ArchitectureRegistry<Architecture> DECODERS =
            new ArchitectureRegistry<>(Architecture.class, a -> a.spec().modelType());

    private Architectures() {
    }

    public static Map<String, Architecture> all() {
        return DECODERS.all();
    }

    /** The architecture for {@code modelType}; {@code where} names the config file for the error message. */
    public static Architecture forModelType(String modelType, String where) {
        return DECODERS.forModelType(modelType, where);
    }
}
