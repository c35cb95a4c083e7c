package dev.stepwise.runtime.model;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The architectures of one kind (the service interface the processor generates implementations of) on the class
 * path, found through {@link ServiceLoader} by their {@code model_type}; {@link Architectures} holds one per kind.
 *
 * @param <A> the service interface
 */
public final class ArchitectureRegistry<A> {
    private final Class<A> service;
    private final Function<A, String> modelType;

    /** {@code modelType} reads an architecture's {@code model_type} from its spec. */
    ArchitectureRegistry(Class<A> service, Function<A, String> modelType) {
        this.service = service;
        this.modelType = modelType;
    }

    /** Every architecture of this kind, by {@code model_type}, in name order. */
    public Map<String, A> all() {
        Map<String, A> byType = new TreeMap<>();
        for (A a : ServiceLoader.load(service)) {
            byType.put(modelType.apply(a), a);
        }
        return byType;
    }

    /** The architecture of this kind for {@code type}, if there is one. */
    public Optional<A> find(String type) {
        return Optional.ofNullable(all().get(type));
    }

    /** The architecture of a folder's {@code config.json}, if its {@code model_type} is of this kind. */
    public Optional<A> of(Path dir) {
        Path configFile = dir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        return find(ModelFolder.modelType(json, configFile));
    }

    /** The architecture for {@code type}; {@code where} names the config file for the one-line error. */
    public A forModelType(String type, String where) {
        Map<String, A> all = all();
        A a = all.get(type);
        if (a == null) {
            throw new StepwiseException(where + ": unknown model_type '" + type + "' (supported: "
                    + String.join(", ", all.keySet()) + ")");
        }
        return a;
    }
}
