package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The generation settings of a generating pipeline, layered as transformers' pipelines layer them: the pipeline's
 * defaults, under the folder's {@code generation_config.json} — where a value equal to transformers' own default
 * (num_beams 1, do_sample false, temperature 1.0) counts as unset, and a {@code max_length} other than 20 drops the
 * pipeline's {@code max_new_tokens} so that it counts — under what the caller passes ({@link
 * PipelineOptions#generation()}, transformers' call-time keyword arguments).
 */
final class PipelineSettings {
    /** transformers' {@code GenerationConfig} defaults of the keys pipelines set. */
    private static final Map<String, JsonPrimitive> TRANSFORMERS_DEFAULTS = Map.of(
            "num_beams", new JsonPrimitive(1), "do_sample", new JsonPrimitive(false),
            "temperature", new JsonPrimitive(1.0), "max_length", new JsonPrimitive(20));

    private PipelineSettings() {
    }

    /** The pipeline's {@code defaults} under the folder's generation config (callers add their own layers after). */
    static GenerationConfig.Builder of(Path folder, JsonObject defaults) {
        Path file = folder.resolve("generation_config.json");
        JsonObject model = Files.isRegularFile(file) ? ModelConfig.readJson(file) : new JsonObject();
        JsonObject set = new JsonObject();
        model.entrySet().stream().filter(e -> !isTransformersDefault(e.getKey(), e.getValue()))
                .forEach(e -> set.add(e.getKey(), e.getValue()));
        JsonObject pipeline = defaults.deepCopy();
        if (set.has("max_length")) {
            pipeline.remove("max_new_tokens");
        }
        return GenerationConfig.Builder.fromJson(pipeline, file)
                .overriddenBy(GenerationConfig.Builder.fromJson(set, file));
    }

    /** {@code options}' call-time settings over {@code settings}. */
    static GenerationConfig.Builder withCallSettings(GenerationConfig.Builder settings, PipelineOptions options) {
        return settings.overriddenBy(GenerationConfig.Builder.fromJson(options.generation(),
                Path.of("pipeline generation settings")));
    }

    /**
     * A generating pipeline's results, one per input: {@code {"generated_text": ...}} per sequence, in an array, or
     * the one object alone when {@code unwrapOne} and there is one.
     */
    static List<JsonElement> generatedTexts(List<List<String>> perInput, boolean unwrapOne) {
        List<JsonElement> out = new ArrayList<>();
        for (List<String> sequences : perInput) {
            JsonArray all = new JsonArray();
            for (String s : sequences) {
                JsonObject o = new JsonObject();
                o.addProperty("generated_text", s);
                all.add(o);
            }
            out.add(unwrapOne && all.size() == 1 ? all.get(0) : all);
        }
        return out;
    }

    private static boolean isTransformersDefault(String key, JsonElement value) {
        JsonPrimitive d = TRANSFORMERS_DEFAULTS.get(key);
        if (d == null || value == null || !value.isJsonPrimitive()) {
            return false;
        }
        JsonPrimitive v = value.getAsJsonPrimitive();
        return d.isBoolean() ? v.isBoolean() && v.getAsBoolean() == d.getAsBoolean()
                : v.isNumber() && v.getAsDouble() == d.getAsDouble();
    }
}
