package dev.stepwise.runtime.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.stream.JsonReader;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint's {@code config.json}: the raw keys, plus the normalized values (num_layers, num_attention_heads, ...)
 * found through an architecture's {@link ConfigKeyMap}. Every missing or mistyped key is reported with the file.
 */
public final class ModelConfig {
    private final Path source;
    private final JsonObject json;
    private final ConfigKeyMap keys;
    private final JsonKeys typed;

    private ModelConfig(Path source, JsonObject json, ConfigKeyMap keys) {
        this.source = source;
        this.json = json;
        this.keys = keys;
        this.typed = new JsonKeys(source, json, key -> "key '" + key + "'");
    }

    /** Reads only the JSON (no normalized keys); used to find the architecture from {@code model_type}. */
    public static JsonObject readJson(Path configJson) {
        try (Reader r = Files.newBufferedReader(configJson, StandardCharsets.UTF_8)) {
            JsonReader reader = new JsonReader(r);
            reader.setStrictness(com.google.gson.Strictness.STRICT);
            JsonElement e = JsonParser.parseReader(reader);
            if (!e.isJsonObject()) {
                throw new StepwiseException(configJson + ": expected a JSON object at the top level");
            }
            return e.getAsJsonObject();
        } catch (NoSuchFileException e) {
            throw new StepwiseException(configJson + ": file not found (a checkpoint folder needs config.json)");
        } catch (JsonParseException e) {
            String why = e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage() : e.getMessage();
            throw new StepwiseException(configJson + ": malformed JSON: " + firstLine(why));
        } catch (IOException e) {
            throw new StepwiseException(configJson + ": cannot read: " + e.getMessage(), e);
        }
    }

    public static ModelConfig read(Path configJson, ConfigKeyMap keys) {
        ModelConfig c = new ModelConfig(configJson, readJson(configJson), keys);
        c.checkNormalized();
        return c;
    }

    public static ModelConfig of(Path source, JsonObject json, ConfigKeyMap keys) {
        ModelConfig c = new ModelConfig(source, json, keys);
        c.checkNormalized();
        return c;
    }

    private void checkNormalized() {
        numLayers();
        numAttentionHeads();
        hiddenSize();
        vocabSize();
        if (numAttentionHeads() <= 0 || hiddenSize() <= 0 || numLayers() <= 0 || vocabSize() <= 0) {
            throw new StepwiseException(source + ": num_layers, num_attention_heads, hidden_size and vocab_size must be positive");
        }
        if (!has("head_dim") && hiddenSize() % numAttentionHeads() != 0) {
            throw new StepwiseException(source + ": hidden size " + hiddenSize() + " is not divisible by "
                    + numAttentionHeads() + " attention heads");
        }
        if (numKeyValueHeads() <= 0) {
            throw new StepwiseException(source + ": key '" + keys.numKeyValueHeads() + "' = " + numKeyValueHeads()
                    + " must be positive");
        }
        if (has("head_dim") && !json.get("head_dim").isJsonNull() && getInt("head_dim") <= 0) {
            throw new StepwiseException(source + ": key 'head_dim' = " + getInt("head_dim") + " must be positive");
        }
        if (numAttentionHeads() % numKeyValueHeads() != 0) {
            throw new StepwiseException(source + ": " + numAttentionHeads() + " attention heads are not a multiple of "
                    + numKeyValueHeads() + " key/value heads");
        }
    }

    public Path source() {
        return source;
    }

    public JsonObject json() {
        return json;
    }

    public String modelType() {
        return getString("model_type", "");
    }

    // ---- normalized values ----

    public int numLayers() {
        return getInt(keys.numLayers());
    }

    public int numAttentionHeads() {
        return getInt(keys.numAttentionHeads());
    }

    public int numKeyValueHeads() {
        String k = keys.numKeyValueHeads();
        return k.isEmpty() || !has(k) || json.get(k).isJsonNull() ? numAttentionHeads() : getInt(k);
    }

    public int hiddenSize() {
        return getInt(keys.hiddenSize());
    }

    public int vocabSize() {
        return getInt(keys.vocabSize());
    }

    public int headDim() {
        return has("head_dim") && !json.get("head_dim").isJsonNull() ? getInt("head_dim") : hiddenSize() / numAttentionHeads();
    }

    public int maxPositions() {
        return keys.maxPositions().isEmpty() ? Integer.MAX_VALUE : getInt(keys.maxPositions(), Integer.MAX_VALUE);
    }

    /**
     * The number of classes of a classification head: the size of {@code id2label}, else {@code num_labels}, else 2
     * (transformers' default).
     */
    public int numLabels() {
        return labels().size();
    }

    /** Class names by index from {@code id2label} ({@code "LABEL_i"} for a config with only {@code num_labels}). */
    public List<String> labels() {
        return labels(json, source);
    }

    /** As {@link #labels()} for any parsed config.json (no normalized keys needed). */
    public static List<String> labels(JsonObject json, Path source) {
        JsonElement e = json.get("id2label");
        if (e != null && !e.isJsonNull() && !e.isJsonObject()) {
            throw new StepwiseException(source + ": key 'id2label' must be an object of index to name, found " + e);
        }
        boolean named = e != null && e.isJsonObject();
        int n;
        if (named) {
            n = e.getAsJsonObject().size();
        } else {
            JsonElement count = json.get("num_labels");
            n = count != null && count.isJsonPrimitive() && count.getAsJsonPrimitive().isNumber() ? count.getAsInt() : 2;
        }
        if (n <= 0) {
            throw new StepwiseException(source + ": a classifier needs at least one label, found " + n);
        }
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            JsonElement name = named ? e.getAsJsonObject().get(Integer.toString(i)) : null;
            if (named && (name == null || !name.isJsonPrimitive())) {
                throw new StepwiseException(source + ": id2label has no name for index " + i + " (expected keys 0.."
                        + (n - 1) + ")");
            }
            labels.add(named ? name.getAsString() : "LABEL_" + i);
        }
        return labels;
    }

    /** End-of-sequence ids (a config may give one id or a list); empty when none. */
    public List<Long> eosTokenIds() {
        return idList(keys.eosTokenId());
    }

    /** The pad id: {@code pad_token_id}, else the first eos id, else 0. */
    public long padTokenId() {
        List<Long> pad = idList(keys.padTokenId());
        if (!pad.isEmpty()) {
            return pad.get(0);
        }
        List<Long> eos = eosTokenIds();
        return eos.isEmpty() ? 0 : eos.get(0);
    }

    public List<Long> bosTokenIds() {
        return idList(keys.bosTokenId());
    }

    private List<Long> idList(String key) {
        List<Long> out = new ArrayList<>();
        if (key.isEmpty() || !has(key) || json.get(key).isJsonNull()) {
            return out;
        }
        JsonElement e = json.get(key);
        if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                out.add(asLong(key, a.get(i)));
            }
        } else {
            out.add(asLong(key, e));
        }
        return out;
    }

    // ---- raw access ----

    public boolean has(String key) {
        return json.has(key);
    }

    public int getInt(String key) {
        if (key.isEmpty() || !json.has(key) || json.get(key).isJsonNull()) {
            throw new StepwiseException(source + ": missing key '" + key + "'");
        }
        long v = asLong(key, json.get(key));
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new StepwiseException(source + ": key '" + key + "' = " + v + " is out of range");
        }
        return (int) v;
    }

    public int getInt(String key, int fallback) {
        return json.has(key) && !json.get(key).isJsonNull() ? getInt(key) : fallback;
    }

    public double getDouble(String key, double fallback) {
        JsonPrimitive p = typed.primitive(key, JsonPrimitive::isNumber, "a number");
        return p == null ? fallback : p.getAsDouble();
    }

    public boolean getBoolean(String key, boolean fallback) {
        JsonPrimitive p = typed.primitive(key, JsonPrimitive::isBoolean, "true or false");
        return p == null ? fallback : p.getAsBoolean();
    }

    public String getString(String key, String fallback) {
        JsonPrimitive p = typed.primitive(key, JsonPrimitive::isString, "a string");
        return p == null ? fallback : p.getAsString();
    }

    private long asLong(String key, JsonElement e) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new StepwiseException(source + ": key '" + key + "' must be an integer, found " + e);
        }
        double d = e.getAsDouble();
        if (d != Math.rint(d)) {
            throw new StepwiseException(source + ": key '" + key + "' must be an integer, found " + e);
        }
        // 7777e7777 reads as Infinity; gson would then fail inside BigDecimal with an unsupported scale
        if (!(Math.abs(d) < 0x1p63)) {
            throw new StepwiseException(source + ": key '" + key + "' is out of range: " + e);
        }
        return e.getAsLong();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
