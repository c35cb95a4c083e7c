package dev.stepwise.runtime.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The encoder-only architectures on the class path ({@link ServiceLoader}, by {@code model_type}), and the task a
 * checkpoint was saved for, read from {@code config.json}'s {@code architectures} as optimum's
 * {@code TasksManager.infer_task_from_model} does ({@code BertModel} → feature-extraction,
 * {@code ...ForSequenceClassification} → text-classification, {@code ...ForMaskedLM} → fill-mask).
 */
public final class EncoderArchitectures {
    private EncoderArchitectures() {
    }

    public static Map<String, EncoderArchitecture> all() {
        Map<String, EncoderArchitecture> byType = new TreeMap<>();
        for (EncoderArchitecture a : ServiceLoader.load(EncoderArchitecture.class)) {
            byType.put(a.spec().modelType(), a);
        }
        return byType;
    }

    public static Optional<EncoderArchitecture> find(String modelType) {
        return Optional.ofNullable(all().get(modelType));
    }

    /** The encoder architecture of a folder's config, if its {@code model_type} is one. */
    public static Optional<EncoderArchitecture> of(Path dir) {
        Path configFile = dir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        return find(ModelFolder.modelType(json, configFile));
    }

    /** The task of {@code config.json}'s first {@code architectures} entry; feature-extraction when there is none. */
    public static Task inferTask(ModelConfig config) {
        JsonElement e = config.json().get("architectures");
        if (e == null || e.isJsonNull()) {
            return Task.FEATURE_EXTRACTION;
        }
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty() || !e.getAsJsonArray().get(0).isJsonPrimitive()) {
            throw new StepwiseException(config.source() + ": key 'architectures' must be a list of class names, found "
                    + e);
        }
        JsonArray a = e.getAsJsonArray();
        String name = a.get(0).getAsString();
        if (name.endsWith("ForSequenceClassification")) {
            return Task.TEXT_CLASSIFICATION;
        }
        if (name.endsWith("ForMaskedLM")) {
            return Task.FILL_MASK;
        }
        if (name.endsWith("Model")) {
            return Task.FEATURE_EXTRACTION;
        }
        throw new StepwiseException(config.source() + ": architectures[0] = '" + name + "' names no task Stepwise"
                + " exports (expected ...Model, ...ForSequenceClassification or ...ForMaskedLM); pass --task");
    }
}
