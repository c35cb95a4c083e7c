package dev.stepwise.runtime.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code config.json} object written inline, for an architecture's random presets
 * ({@link CausalLm#randomPresets}): {@code key, value, key, value, ...}, kept in the order given (transformers sorts
 * the keys when it saves a config, so presets list them sorted).
 */
public final class ConfigJson {
    private ConfigJson() {
    }

    /**
     * Values are strings, numbers (written as Java prints them: {@code 0} and {@code 0.0} differ, and a
     * {@code BigDecimal} keeps {@code 0.00001} from becoming {@code 1.0E-5}), booleans, {@code null}, lists (arrays,
     * nested lists allowed) and JSON elements.
     */
    public static JsonObject of(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("expected key, value pairs, got " + keysAndValues.length + " items");
        }
        JsonObject o = new JsonObject();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (!(keysAndValues[i] instanceof String key)) {
                throw new IllegalArgumentException("key #" + (i / 2) + " is not a string: " + keysAndValues[i]);
            }
            o.add(key, element(keysAndValues[i + 1]));
        }
        return o;
    }

    /** An architecture's presets by name, in the order given (the order {@code random-checkpoint --list} shows). */
    @SafeVarargs
    public static Map<String, JsonObject> presets(Map.Entry<String, JsonObject>... named) {
        Map<String, JsonObject> p = new LinkedHashMap<>();
        for (Map.Entry<String, JsonObject> e : named) {
            p.put(e.getKey(), e.getValue());
        }
        return p;
    }

    private static JsonElement element(Object v) {
        if (v == null) {
            return JsonNull.INSTANCE;
        }
        if (v instanceof JsonElement e) {
            return e.deepCopy();
        }
        if (v instanceof String s) {
            return new JsonPrimitive(s);
        }
        if (v instanceof Number n) {
            return new JsonPrimitive(n);
        }
        if (v instanceof Boolean b) {
            return new JsonPrimitive(b);
        }
        if (v instanceof List<?> list) {
            JsonArray a = new JsonArray();
            list.forEach(item -> a.add(element(item)));
            return a;
        }
        throw new IllegalArgumentException("cannot write " + v.getClass().getSimpleName() + " " + v + " as JSON");
    }
}
