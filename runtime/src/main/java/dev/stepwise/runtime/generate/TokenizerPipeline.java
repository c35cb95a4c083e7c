package dev.stepwise.runtime.generate;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * The tokenizer that transformers 5's {@code AutoTokenizer.from_pretrained(folder)} actually runs, as a
 * {@code tokenizer.json} document. transformers does not always run the file as written:
 * <ul>
 *   <li>{@code LlamaTokenizer}(Fast) rebuilds the pipeline in its constructor: no normalizer, a {@code Metaspace}
 *       pre-tokenizer (prepend "always" when {@code legacy}, else "first"; "never" when {@code add_prefix_space} is
 *       false) and its own decoder. On the Llama fixture this changes the ids of text that starts with a space;</li>
 *   <li>{@code GPT2Tokenizer} (also the class of {@code gpt2}, {@code gpt_neo}, {@code opt} folders that name none)
 *       drops the normalizer and uses {@code ByteLevel(add_prefix_space)} from {@code tokenizer_config.json};</li>
 *   <li>any other class ({@code TokenizersBackend}, {@code PreTrainedTokenizerFast}, ...) runs the file as is.</li>
 * </ul>
 * Special tokens come from the file's {@code post_processor} (LLaMA's {@code <s> $A}; GPT-2's ByteLevel adds none).
 * {@code add_bos_token} / {@code add_eos_token} in {@code tokenizer_config.json} are <em>ignored</em> whenever a
 * {@code tokenizer.json} exists: transformers 5 drops them before building the tokenizer (transformers 4 honoured them
 * for Llama). {@code tools/tokenizer_goldens.py} records transformers 5.17's ids for all these cases.
 */
final class TokenizerPipeline {
    private static final Set<String> GPT2_MODEL_TYPES = Set.of("gpt2", "gpt_neo", "opt");

    private TokenizerPipeline() {
    }

    /** The folder's {@code tokenizer.json} with the parts transformers replaces replaced. */
    static JsonObject effective(Path modelDir) {
        JsonObject tokenizer = read(modelDir.resolve("tokenizer.json"));
        Path configFile = modelDir.resolve("tokenizer_config.json");
        JsonObject config = Files.isRegularFile(configFile) ? read(configFile) : new JsonObject();
        switch (tokenizerClass(modelDir, config)) {
            case "LlamaTokenizer" -> llama(tokenizer, config);
            case "GPT2Tokenizer" -> gpt2(tokenizer, config);
            default -> { }
        }
        return tokenizer;
    }

    /**
     * {@code tokenizer_class} of {@code tokenizer_config.json} without the "Fast" suffix (transformers 5 has one class
     * for both); when absent, what AutoTokenizer picks from {@code config.json}'s {@code model_type}.
     */
    static String tokenizerClass(Path modelDir, JsonObject config) {
        JsonElement named = config.get("tokenizer_class");
        if (named != null && named.isJsonPrimitive()) {
            String name = named.getAsString();
            return name.endsWith("Fast") ? name.substring(0, name.length() - 4) : name;
        }
        Path modelConfig = modelDir.resolve("config.json");
        if (Files.isRegularFile(modelConfig)) {
            JsonElement type = read(modelConfig).get("model_type");
            if (type != null && type.isJsonPrimitive()
                    && GPT2_MODEL_TYPES.contains(type.getAsString().toLowerCase(Locale.ROOT))) {
                return "GPT2Tokenizer";
            }
        }
        return "TokenizersBackend";
    }

    /** transformers' {@code LlamaTokenizer.__init__}: sentencepiece-style spaces, byte fallback. */
    private static void llama(JsonObject tokenizer, JsonObject config) {
        boolean addPrefixSpace = flag(config, "add_prefix_space", true);
        boolean legacy = flag(config, "legacy", false);
        tokenizer.add("normalizer", JsonNull.INSTANCE);
        JsonObject metaspace = new JsonObject();
        metaspace.addProperty("type", "Metaspace");
        metaspace.addProperty("replacement", "\u2581");
        metaspace.addProperty("prepend_scheme", !addPrefixSpace ? "never" : legacy ? "always" : "first");
        metaspace.addProperty("split", false);
        tokenizer.add("pre_tokenizer", metaspace);

        JsonArray steps = new JsonArray();
        JsonObject replace = new JsonObject();
        replace.addProperty("type", "Replace");
        JsonObject pattern = new JsonObject();
        pattern.addProperty("String", "\u2581");
        replace.add("pattern", pattern);
        replace.addProperty("content", " ");
        steps.add(replace);
        steps.add(typed("ByteFallback"));
        steps.add(typed("Fuse"));
        if (addPrefixSpace) {
            JsonObject strip = typed("Strip");
            strip.addProperty("content", " ");
            strip.addProperty("start", 1);
            strip.addProperty("stop", 0);
            steps.add(strip);
        }
        JsonObject decoder = typed("Sequence");
        decoder.add("decoders", steps);
        tokenizer.add("decoder", decoder);
    }

    /** transformers' {@code GPT2Tokenizer.__init__}: byte-level pre-tokenizer and decoder, no normalizer. */
    private static void gpt2(JsonObject tokenizer, JsonObject config) {
        tokenizer.add("normalizer", JsonNull.INSTANCE);
        tokenizer.add("pre_tokenizer", byteLevel(flag(config, "add_prefix_space", false)));
        tokenizer.add("decoder", byteLevel(true));
    }

    private static JsonObject byteLevel(boolean addPrefixSpace) {
        JsonObject o = typed("ByteLevel");
        o.addProperty("add_prefix_space", addPrefixSpace);
        o.addProperty("trim_offsets", true);
        o.addProperty("use_regex", true);
        return o;
    }

    private static JsonObject typed(String type) {
        JsonObject o = new JsonObject();
        o.addProperty("type", type);
        return o;
    }

    /** A boolean key; null or absent means the constructor's default, as in Python. */
    private static boolean flag(JsonObject config, String key, boolean byDefault) {
        JsonElement v = config.get(key);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean() ? v.getAsBoolean() : byDefault;
    }

    private static JsonObject read(Path file) {
        try {
            JsonElement parsed = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            if (!parsed.isJsonObject()) {
                throw new StepwiseException(file + ": expected a JSON object");
            }
            return parsed.getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            if (e instanceof StepwiseException se) {
                throw se;
            }
            throw new StepwiseException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
