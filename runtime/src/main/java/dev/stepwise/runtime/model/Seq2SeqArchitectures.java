package dev.stepwise.runtime.model;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The encoder-decoder architectures on the class path ({@link ServiceLoader}, by {@code model_type}). */
public final class Seq2SeqArchitectures {
    private Seq2SeqArchitectures() {
    }

    public static Map<String, Seq2SeqArchitecture> all() {
        Map<String, Seq2SeqArchitecture> byType = new TreeMap<>();
        for (Seq2SeqArchitecture a : ServiceLoader.load(Seq2SeqArchitecture.class)) {
            byType.put(a.spec().modelType(), a);
        }
        return byType;
    }

    public static Optional<Seq2SeqArchitecture> find(String modelType) {
        return Optional.ofNullable(all().get(modelType));
    }

    /** The encoder-decoder architecture of a folder's config, if its {@code model_type} is one. */
    public static Optional<Seq2SeqArchitecture> of(Path dir) {
        Path configFile = dir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        return find(ModelFolder.modelType(json, configFile));
    }
}
