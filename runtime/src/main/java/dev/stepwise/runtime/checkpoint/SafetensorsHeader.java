package dev.stepwise.runtime.checkpoint;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The parsed and checked JSON header of a safetensors file: tensors in header order, plus the free-form
 * {@code __metadata__} strings. Every problem is reported naming the file and the tensor or field, so a corrupt or
 * truncated download is recognisable from the message alone.
 */
public final class SafetensorsHeader {
    static final String METADATA_KEY = "__metadata__";

    private final Map<String, SafetensorsEntry> entries;
    private final Map<String, String> metadata;

    private SafetensorsHeader(Map<String, SafetensorsEntry> entries, Map<String, String> metadata) {
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    public Map<String, SafetensorsEntry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * @param file     how to name the file in errors
     * @param json     the header bytes (UTF-8, possibly padded with trailing spaces)
     * @param dataSize bytes in the data section, i.e. file size − 8 − header length
     */
    public static SafetensorsHeader parse(String file, byte[] json, long dataSize) {
        String text = decodeUtf8(file, json);
        Map<String, SafetensorsEntry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try {
            // Read the top level by hand: a JsonObject would silently keep only the last of two equal tensor names.
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                throw new StepwiseException(file + ": malformed safetensors header: expected a JSON object, found "
                        + reader.peek());
            }
            reader.beginObject();
            boolean sawMetadata = false;
            while (reader.hasNext()) {
                String name = reader.nextName();
                JsonElement value = JsonParser.parseReader(reader);
                if (name.equals(METADATA_KEY)) {
                    if (sawMetadata) {
                        throw new StepwiseException(file + ": header has '" + METADATA_KEY + "' twice");
                    }
                    sawMetadata = true;
                    metadata.putAll(parseMetadata(file, value));
                } else if (entries.containsKey(name)) {
                    throw new StepwiseException(file + ": header lists tensor '" + name + "' twice");
                } else {
                    entries.put(name, parseEntry(file, name, value, dataSize));
                }
            }
            reader.endObject();
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new StepwiseException(file + ": malformed safetensors header: unexpected content after the JSON object");
            }
        } catch (JsonParseException | IOException | IllegalStateException e) {
            String why = e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage() : e.getMessage();
            throw new StepwiseException(file + ": malformed safetensors header JSON: " + firstLine(why), e);
        }
        checkNoOverlap(file, entries.values());
        return new SafetensorsHeader(entries, metadata);
    }

    private static String decodeUtf8(String file, byte[] json) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(json))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new StepwiseException(file + ": malformed safetensors header: not valid UTF-8");
        }
    }

    private static Map<String, String> parseMetadata(String file, JsonElement value) {
        if (!value.isJsonObject()) {
            throw new StepwiseException(file + ": header field '" + METADATA_KEY + "' must be an object of strings, found " + brief(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : value.getAsJsonObject().entrySet()) {
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new StepwiseException(file + ": header field '" + METADATA_KEY + "." + e.getKey()
                        + "' must be a string, found " + brief(v));
            }
            out.put(e.getKey(), v.getAsString());
        }
        return out;
    }

    private static SafetensorsEntry parseEntry(String file, String name, JsonElement value, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!value.isJsonObject()) {
            throw new StepwiseException(where + ": expected an object with dtype, shape and data_offsets, found " + brief(value));
        }
        JsonObject o = value.getAsJsonObject();
        for (String field : List.of("dtype", "shape", "data_offsets")) {
            if (!o.has(field) || o.get(field).isJsonNull()) {
                throw new StepwiseException(where + ": missing field '" + field + "' (every tensor needs dtype, shape and data_offsets)");
            }
        }

        JsonElement dtypeJson = o.get("dtype");
        if (!dtypeJson.isJsonPrimitive() || !dtypeJson.getAsJsonPrimitive().isString()) {
            throw new StepwiseException(where + ": field 'dtype' must be a string, found " + brief(dtypeJson));
        }
        String dtypeName = dtypeJson.getAsString();
        SafetensorsDtype dtype = SafetensorsDtype.fromHeaderName(dtypeName).orElseThrow(() -> new StepwiseException(
                where + ": unknown dtype '" + dtypeName + "', expected one of " + SafetensorsDtype.knownNames()));

        JsonElement shapeJson = o.get("shape");
        if (!shapeJson.isJsonArray()) {
            throw new StepwiseException(where + ": field 'shape' must be an array of integers, found " + brief(shapeJson));
        }
        JsonArray shapeArray = shapeJson.getAsJsonArray();
        long[] shape = new long[shapeArray.size()];
        for (int i = 0; i < shape.length; i++) {
            Long d = exactLong(shapeArray.get(i));
            if (d == null) {
                throw new StepwiseException(where + ": shape " + shapeJson + " must hold integers, found " + brief(shapeArray.get(i)));
            }
            if (d < 0) {
                throw new StepwiseException(where + ": shape " + shapeJson + " has a negative dimension " + d);
            }
            shape[i] = d;
        }

        JsonElement offsetsJson = o.get("data_offsets");
        Long begin = null;
        Long end = null;
        if (offsetsJson.isJsonArray() && offsetsJson.getAsJsonArray().size() == 2) {
            begin = exactLong(offsetsJson.getAsJsonArray().get(0));
            end = exactLong(offsetsJson.getAsJsonArray().get(1));
        }
        if (begin == null || end == null || begin < 0 || end < 0) {
            throw new StepwiseException(where + ": data_offsets must be two non-negative integers [begin, end], found " + brief(offsetsJson));
        }
        if (begin > end) {
            throw new StepwiseException(where + ": data_offsets " + offsetsJson + " begin after they end");
        }
        if (end > dataSize) {
            throw new StepwiseException(file + ": header offsets past the end: tensor '" + name + "' ends at data offset "
                    + end + " but the file holds only " + dataSize + " data bytes (truncated or corrupt file?)");
        }

        long elements;
        long expectedBytes;
        try {
            elements = SafetensorsEntry.elementCount(shape);
            expectedBytes = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new StepwiseException(where + ": shape " + Arrays.toString(shape) + " has too many elements");
        }
        if (end - begin != expectedBytes) {
            throw new StepwiseException(where + ": data_offsets " + offsetsJson + " span " + (end - begin) + " bytes, expected "
                    + expectedBytes + " (" + elements + " elements of " + dtype + " × " + dtype.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + ")");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(String file, Iterable<SafetensorsEntry> entries) {
        List<SafetensorsEntry> sorted = new ArrayList<>();
        for (SafetensorsEntry e : entries) {
            if (e.byteLength() > 0) { // empty tensors occupy no bytes, so they cannot overlap anything
                sorted.add(e);
            }
        }
        sorted.sort(Comparator.comparingLong(SafetensorsEntry::begin).thenComparingLong(SafetensorsEntry::end));
        for (int i = 1; i < sorted.size(); i++) {
            SafetensorsEntry previous = sorted.get(i - 1);
            SafetensorsEntry current = sorted.get(i);
            if (current.begin() < previous.end()) {
                throw new StepwiseException(file + ": tensors '" + previous.name() + "' [" + previous.begin() + ", "
                        + previous.end() + ") and '" + current.name() + "' [" + current.begin() + ", " + current.end()
                        + ") overlap in the data section");
            }
        }
    }

    /** The integer value of a JSON number (no fraction, fits a long), else null. */
    private static Long exactLong(JsonElement e) {
        if (!e.isJsonPrimitive() || !((JsonPrimitive) e).isNumber()) {
            return null;
        }
        try {
            BigDecimal d = e.getAsBigDecimal();
            return d.stripTrailingZeros().scale() > 0 ? null : d.longValueExact();
        } catch (ArithmeticException | NumberFormatException ex) {
            return null;
        }
    }

    private static String brief(JsonElement e) {
        String s = e.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public String toString() {
        return entries.values().stream().map(SafetensorsEntry::toString).collect(Collectors.joining(", ", "{", "}"));
    }
}
