package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.model.ModelConfig;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stepwise pipeline text-generation} on the export of the trained pylm-llama-trained fixture: the texts equal
 * transformers' own {@code pipeline("text-generation")} (goldens of {@code tools/text_generation_goldens.py}) for
 * greedy decoding and for 3-beam search, the settings given as {@code --generate KEY=VALUE} the way the script passes
 * them as keyword arguments: the prompt followed by the decoded continuation, one JSON array per input.
 */
class TextGenerationPipelineTest {
    @TempDir
    static Path tmp;
    static Path exported;
    static JsonObject goldens;

    @BeforeAll
    static void export() throws URISyntaxException {
        goldens = ModelConfig.readJson(Path.of(TextGenerationPipelineTest.class
                .getResource("/text_generation/goldens.json").toURI()));
        exported = tmp.resolve("pylm");
        BertCliTest.Outcome o = BertCliTest.cli("export", "--model", Fixtures.path("pylm-llama-trained").toString(),
                "--output", exported.toString());
        assertEquals(0, o.status(), o.stderr());
    }

    @Test
    void textsEqualTransformersPipeline() {
        List<String> prompts = new ArrayList<>();
        goldens.getAsJsonArray("prompts").forEach(p -> prompts.add(p.getAsString()));
        for (JsonElement c : goldens.getAsJsonArray("cases")) {
            JsonObject settings = c.getAsJsonObject().getAsJsonObject("generate");
            List<String> args = new ArrayList<>(List.of("pipeline", "text-generation", "--model", exported.toString()));
            settings.entrySet().forEach(e -> args.addAll(List.of("--generate", e.getKey() + "=" + e.getValue())));
            args.add("--input");
            args.addAll(prompts);
            BertCliTest.Outcome o = BertCliTest.cli(args.toArray(new String[0]));
            assertEquals(0, o.status(), o.stderr());
            List<String> texts = new ArrayList<>();
            for (String line : o.lines()) {
                JsonArray sequences = JsonParser.parseString(line).getAsJsonArray();
                assertEquals(1, sequences.size(), "one sequence per input: " + line);
                texts.add(sequences.get(0).getAsJsonObject().get("generated_text").getAsString());
            }
            List<String> expected = new ArrayList<>();
            c.getAsJsonObject().getAsJsonArray("outputs").forEach(t -> expected.add(t.getAsString()));
            System.out.println("text-generation " + settings + ": " + texts);
            assertEquals(expected, texts, "texts with " + settings);
        }
    }

    @Test
    void aMalformedSettingIsAUsageError() {
        BertCliTest.Outcome o = BertCliTest.cli("pipeline", "text-generation", "--model", exported.toString(),
                "--generate", "max_new_tokens", "--input", "def f():");
        assertEquals(2, o.status(), o.stderr());
        assertTrue(o.stderr().contains("--generate: expected KEY=VALUE, got 'max_new_tokens'"), o.stderr());
    }
}
