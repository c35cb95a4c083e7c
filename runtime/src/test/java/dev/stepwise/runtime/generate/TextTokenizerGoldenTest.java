package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompts encode to exactly transformers 5.17's {@code AutoTokenizer(...)(text)} ids, special tokens included, for
 * the Llama, trained-LLaMA and GPT-2 fixtures and for variants of their {@code tokenizer_config.json} /
 * {@code tokenizer.json} (add_eos_token, add_prefix_space, legacy, tokenizer_class, no post-processor). The expected
 * ids are {@code tokenizer/transformers-ids.json}, written by {@code tools/tokenizer_goldens.py}; each case's folder
 * is built here the way that script built it.
 */
class TextTokenizerGoldenTest {
    @TempDir
    Path tmp;

    static JsonObject goldens() throws IOException {
        try (InputStream in = TextTokenizerGoldenTest.class.getResourceAsStream("/tokenizer/transformers-ids.json")) {
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    @TestFactory
    List<DynamicTest> idsEqualTransformers() throws IOException {
        JsonObject goldens = goldens();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement c : goldens.getAsJsonArray("cases")) {
            JsonObject testCase = c.getAsJsonObject();
            String name = testCase.get("name").getAsString();
            tests.add(DynamicTest.dynamicTest(name + " (" + testCase.get("transformers_class").getAsString() + ")",
                    () -> checkCase(testCase, goldens.getAsJsonArray("files"))));
        }
        assertEquals(15, tests.size(), "cases in the golden file");
        return tests;
    }

    void checkCase(JsonObject testCase, JsonArray files) throws IOException {
        Path folder = Files.createDirectories(tmp.resolve(testCase.get("name").getAsString()));
        Path fixture = Fixtures.path(testCase.get("fixture").getAsString());
        for (JsonElement f : files) {
            Path source = fixture.resolve(f.getAsString());
            if (Files.exists(source)) {
                Files.copy(source, folder.resolve(f.getAsString()));
            }
        }
        override(folder.resolve("tokenizer_config.json"), testCase.getAsJsonObject("tokenizer_config"));
        override(folder.resolve("tokenizer.json"), testCase.getAsJsonObject("tokenizer_json"));
        try (TextTokenizer tokenizer = TextTokenizer.open(folder)) {
            for (JsonElement p : testCase.getAsJsonArray("prompts")) {
                String text = p.getAsJsonObject().get("text").getAsString();
                JsonArray ids = p.getAsJsonObject().getAsJsonArray("ids");
                long[] expected = new long[ids.size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = ids.get(i).getAsLong();
                }
                assertArrayEquals(expected, tokenizer.encode(text), testCase.get("name").getAsString() + ": '"
                        + (text.length() > 40 ? text.substring(0, 40) + "..." : text) + "'");
            }
        }
    }

    /** The script's rule: a null value removes the key, except post_processor, which becomes null. */
    static void override(Path file, JsonObject overrides) throws IOException {
        if (overrides == null) {
            return;
        }
        JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        for (Map.Entry<String, JsonElement> e : overrides.entrySet()) {
            if (e.getValue().isJsonNull() && !e.getKey().equals("post_processor")) {
                json.remove(e.getKey());
            } else {
                json.add(e.getKey(), e.getValue().isJsonNull() ? JsonNull.INSTANCE : e.getValue());
            }
        }
        file.toFile().setWritable(true);
        Files.writeString(file, json.toString(), StandardCharsets.UTF_8);
    }
}
