package dev.stepwise.runtime.model;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;

/**
 * A folder's {@code config.json} resolved: the architecture its {@code model_type} names (found through
 * {@link Architectures}) and the config read with that architecture's keys. Checkpoint folders and exported folders
 * are opened the same way.
 */
public record ModelFolder(Architecture architecture, ModelConfig config) {

    public static ModelFolder read(Path dir) {
        Path configFile = dir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        Architecture architecture = Architectures.forModelType(modelType(json, configFile), configFile.toString());
        return new ModelFolder(architecture, ModelConfig.of(configFile, json, architecture.spec().configKeys()));
    }

    /** The {@code model_type} of a parsed config; a one-line error naming the file when it is missing. */
    public static String modelType(JsonObject json, Path configFile) {
        if (!json.has("model_type") || !json.get("model_type").isJsonPrimitive()) {
            throw new StepwiseException(configFile + ": missing key 'model_type'");
        }
        return json.get("model_type").getAsString();
    }
}
