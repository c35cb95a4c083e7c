package dev.stepwise.runtime.model;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/** The encoder-decoder architectures on the class path ({@link ServiceLoader}, by {@code model_type}). */
public final class Seq2SeqArchitectures {
    private static final ArchitectureRegistry<Seq2SeqArchitecture> REGISTRY =
            new ArchitectureRegistry<>(Seq2SeqArchitecture.class, a -> a.spec().modelType());

    private Seq2SeqArchitectures() {
    }

    public static Map<String, Seq2SeqArchitecture> all() {
        return REGISTRY.all();
    }

    public static Optional<Seq2SeqArchitecture> find(String modelType) {
        return REGISTRY.find(modelType);
    }

    /** The encoder-decoder architecture of a folder's config, if its {@code model_type} is one. */
    public static Optional<Seq2SeqArchitecture> of(Path dir) {
        return REGISTRY.of(dir);
    }
}
