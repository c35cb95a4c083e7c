package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stepwise pipeline text2text-generation} on the export of t5-reverse-trained (trained to output its input
 * reversed, then its first token) with the word-level tokenizer of {@code tools/text2text_goldens.py}: the generated
 * texts equal what transformers' text2text-generation pipeline gives (the script's {@code goldens.json}), exactly,
 * with no prefix, with config.json's top-level {@code prefix}, and with a {@code task_specific_params} entry chosen
 * by {@code --config-task}; and {@code stepwise generate} on the export (ids or a text prompt, each decoder) gives
 * transformers' greedy and 3-beam tokens of the fixture's {@code goldens.json}.
 */
class Seq2SeqCliTest {
    @TempDir
    static Path tmp;
    static Path exported;
    static JsonObject goldens;
    static List<String> inputs;

    @BeforeAll
    static void exportWithTokenizer() throws IOException, URISyntaxException {
        Path resources = Path.of(Seq2SeqCliTest.class.getResource("/text2text/goldens.json").toURI()).getParent();
        goldens = ModelConfig.readJson(resources.resolve("goldens.json"));
        inputs = new ArrayList<>();
        goldens.getAsJsonArray("inputs").forEach(e -> inputs.add(e.getAsString()));
        Path checkpoint = tmp.resolve("t5-reverse-trained");
        Files.createDirectories(checkpoint);
        try (Stream<Path> files = Files.list(Fixtures.path("seq2seq/t5-reverse-trained"))) {
            for (Path f : files.toList()) {
                Files.copy(f, checkpoint.resolve(f.getFileName()));
            }
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(resources.resolve(f), checkpoint.resolve(f));
        }
        exported = tmp.resolve("export");
        BertCliTest.Outcome o = BertCliTest.cli("export", "--model", checkpoint.toString(), "--output",
                exported.toString());
        assertEquals(0, o.status(), o.stderr());
        assertTrue(Files.isRegularFile(exported.resolve("tokenizer.json")), "export copies the tokenizer");
    }

    /** A copy of the export whose config.json has {@code key} set to {@code value}. */
    static Path withConfig(String name, String key, JsonElement value) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(exported)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        JsonObject config = ModelConfig.readJson(dir.resolve("config.json"));
        config.add(key, value);
        Files.writeString(dir.resolve("config.json"), config.toString());
        return dir;
    }

    static List<JsonElement> results(JsonObject golden) {
        List<JsonElement> out = new ArrayList<>();
        golden.getAsJsonArray("results").forEach(out::add);
        return out;
    }

    static List<JsonElement> run(Path folder, String... extra) {
        List<String> args = new ArrayList<>(List.of("pipeline", "text2text-generation", "--model", folder.toString()));
        args.addAll(List.of(extra));
        args.add("--input");
        args.addAll(inputs);
        BertCliTest.Outcome o = BertCliTest.cli(args.toArray(new String[0]));
        assertEquals(0, o.status(), o.stderr());
        List<JsonElement> out = new ArrayList<>();
        o.lines().forEach(l -> out.add(JsonParser.parseString(l)));
        System.out.println("text2text-generation " + folder.getFileName() + " " + List.of(extra) + ": " + out);
        return out;
    }

    @Test
    void generatedTextsEqualTransformersPipeline() throws IOException {
        List<JsonElement> expected = results(goldens.getAsJsonObject("plain"));
        assertEquals(expected, run(exported), "no prefix; pipeline defaults num_beams 4, max_new_tokens 256");
        // one text per run (batches of one, as transformers' pipeline runs by default) gives the same texts
        assertEquals(expected, run(exported, "--batch-size", "1"), "batch size 1");
        Path file = tmp.resolve("inputs.txt");
        Files.writeString(file, String.join("\n\n", inputs) + "\n");
        BertCliTest.Outcome fromFile = BertCliTest.cli("pipeline", "text2text-generation", "--model",
                exported.toString(), "--input-file", file.toString());
        assertEquals(0, fromFile.status(), fromFile.stderr());
        assertEquals(expected.stream().map(JsonElement::toString).toList(), fromFile.lines(), "--input-file");
    }

    /** The fixture's goldens.json sequences ("greedy" or "beam3") as --print-ids lines. */
    static List<String> goldenLines(String key) {
        JsonObject golden = ModelConfig.readJson(Fixtures.path("seq2seq/t5-reverse-trained").resolve("goldens.json"));
        List<String> lines = new ArrayList<>();
        for (JsonElement seq : golden.getAsJsonArray(key)) {
            List<String> ids = new ArrayList<>();
            seq.getAsJsonArray().forEach(e -> ids.add(e.getAsString()));
            lines.add(String.join(" ", ids));
        }
        return lines;
    }

    @Test
    void generateRunsTheSeq2SeqExportWithEveryDecoder() {
        // goldens.json rows: 5 77 12 250 31 9 </s> and 8 199 45 </s>, transformers' generate with 8 new tokens
        String rows = "5,77,12,250,31,9,1;8,199,45,1";
        for (String decoder : List.of("optimum", "merged", "single")) {
            BertCliTest.Outcome greedy = BertCliTest.cli("generate", "--model", exported.toString(), "--input-ids",
                    rows, "--max-new-tokens", "8", "--min-new-tokens", "8", "--print-ids", "--seq2seq-decoder",
                    decoder);
            assertEquals(0, greedy.status(), greedy.stderr());
            assertEquals(goldenLines("greedy"), greedy.lines(), "greedy, " + decoder + " decoder");
            BertCliTest.Outcome beams = BertCliTest.cli("generate", "--model", exported.toString(), "--input-ids",
                    rows, "--max-new-tokens", "8", "--min-new-tokens", "8", "--num-beams", "3", "--print-ids",
                    "--seq2seq-decoder", decoder);
            assertEquals(0, beams.status(), beams.stderr());
            assertEquals(goldenLines("beam3"), beams.lines(), "3 beams, " + decoder + " decoder");
        }
        // a text prompt goes through tokenizer.json (to the ids of row 0) and streams the decoded continuation
        BertCliTest.Outcome text = BertCliTest.cli("generate", "--model", exported.toString(), "--prompt",
                "w5 w77 w12 w250 w31 w9", "--max-new-tokens", "8", "--min-new-tokens", "8", "--print-prompt-ids");
        assertEquals(0, text.status(), text.stderr());
        assertTrue(text.stderr().contains("prompt ids: 5 77 12 250 31 9 1"), text.stderr());
        // the same ids as words, without decoder_start_token_id (0, <pad>: a special token, skipped)
        String expected = goldenLines("greedy").get(0).replaceFirst("^0 ", "").replaceAll("(\\d+)", "w$1");
        assertEquals(List.of(expected), text.lines(), "decoded greedy continuation");

        BertCliTest.Outcome loop = BertCliTest.cli("generate", "--model", exported.toString(), "--input-ids", rows,
                "--engine", "loop");
        assertEquals(2, loop.status());
        assertTrue(loop.stderr().contains("is a seq2seq export, which the java engine runs"), loop.stderr());
        BertCliTest.Outcome badDecoder = BertCliTest.cli("generate", "--model", exported.toString(), "--input-ids",
                rows, "--seq2seq-decoder", "fused");
        assertEquals(2, badDecoder.status());
        assertTrue(badDecoder.stderr().contains("--seq2seq-decoder must be optimum, merged or single"),
                badDecoder.stderr());
    }

    @Test
    void configPrefixIsPrepended() throws IOException {
        JsonObject golden = goldens.getAsJsonObject("prefix");
        Path folder = withConfig("with-prefix", "prefix", golden.get("config_prefix"));
        List<JsonElement> got = run(folder);
        assertEquals(results(golden), got, "config.json prefix " + golden.get("config_prefix"));
        assertNotEquals(results(goldens.getAsJsonObject("plain")), got, "the prefix changes the outputs");
    }

    @Test
    void taskSpecificParamsGiveThePrefixAndSettings() throws IOException {
        JsonObject golden = goldens.getAsJsonObject("task");
        Path folder = withConfig("with-task", "task_specific_params", golden.get("task_specific_params"));
        assertEquals(results(golden), run(folder, "--config-task", golden.get("task").getAsString()),
                "task_specific_params." + golden.get("task").getAsString());
        BertCliTest.Outcome missing = BertCliTest.cli("pipeline", "text2text-generation", "--model",
                folder.toString(), "--config-task", "translation_en_to_de", "--input", "w5 w6");
        assertNotEquals(0, missing.status());
        assertTrue(missing.stderr().contains("task_specific_params has no entry 'translation_en_to_de'")
                && missing.stderr().strip().lines().count() == 1, missing.stderr());
        assertEquals("", missing.stdout());
    }
}
