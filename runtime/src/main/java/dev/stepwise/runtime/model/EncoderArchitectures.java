package dev.stepwise.runtime.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The encoder-only architectures on the class path ({@link ServiceLoader}, by {@code model_type}), and the task a
 * checkpoint was saved for, read from {@code config.json}'s {@code architectures} as optimum's
 * {@code TasksManager.infer_task_from_model} does ({@code BertModel} → feature-extraction,
 * {@code ...ForSequenceClassification} → text-classification, {@code ...ForMaskedLM} → fill-mask).
 */
public final class EncoderArchitectures {
    private static final ArchitectureRegistry<EncoderArchitecture> REGISTRY =
            new ArchitectureRegistry<>(EncoderArchitecture.class, a -> a.spec().modelType());

    private EncoderArchitectures() {
    }

    public static Map<String, EncoderArchitecture> all() {
        return REGISTRY.all();
    }

    public static Optional<EncoderArchitecture> find(String modelType) {
        return REGISTRY.find(modelType);
    }

    /** The encoder architecture of a folder's config, if its {@code model_type} is one. */
    public static Optional<EncoderArchitecture> of(Path dir) {
        return REGISTRY.of(dir);
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
