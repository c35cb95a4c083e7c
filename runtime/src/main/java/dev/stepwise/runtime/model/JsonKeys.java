package dev.stepwise.runtime.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Typed reads of a JSON file's top-level keys ({@code config.json}, {@code generation_config.json}): a value of the
 * wrong type fails in one line naming the file and the key. {@code keyName} spells a key in those messages, as its
 * reader always has ({@code key 'rope_theta'} for a config, plain {@code top_p} for generation settings).
 */
public record JsonKeys(Path file, JsonObject json, Function<String, String> keyName) {

    /** The value of {@code key}; null when it is absent or JSON null. */
    public JsonElement get(String key) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? null : e;
    }

    /** The value of {@code key} when it is a primitive that {@code is} accepts; null when absent. */
    public JsonPrimitive primitive(String key, Predicate<JsonPrimitive> is, String expected) {
        JsonElement e = get(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonPrimitive() || !is.test(e.getAsJsonPrimitive())) {
            throw wrong(key, expected);
        }
        return e.getAsJsonPrimitive();
    }

    /** {@code <file>: <key> must be <expected>, found <value>}. */
    public StepwiseException wrong(String key, String expected) {
        return new StepwiseException(file + ": " + keyName.apply(key) + " must be " + expected + ", found "
                + json.get(key));
    }
}
