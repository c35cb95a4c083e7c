package dev.stepwise.runtime.model;

import java.util.Map;
import java.util.ServiceLoader;

/** The decoder architectures on the class path, found through {@link ServiceLoader} by their {@code model_type}. */
public final class Architectures {
    private static final ArchitectureRegistry<Architecture> REGISTRY =
            new ArchitectureRegistry<>(Architecture.class, a -> a.spec().modelType());

    private Architectures() {
    }

    public static Map<String, Architecture> all() {
        return REGISTRY.all();
    }

    /** The architecture for {@code modelType}; {@code where} names the config file for the error message. */
    public static Architecture forModelType(String modelType, String where) {
        return REGISTRY.forModelType(modelType, where);
    }
}
