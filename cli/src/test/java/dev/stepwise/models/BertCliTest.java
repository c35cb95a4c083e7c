package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.cli.Main;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The encoder commands end to end: {@code export} with no flags on the MiniLM fixture, {@code pipeline} for each
 * task (one JSON result per line on stdout), {@code quantize} on the export and a pipeline on its result.
 */
class BertCliTest {
    record Outcome(int status, String stdout, String stderr) {
        List<String> lines() {
            return stdout.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    @TempDir
    static Path tmp;
    static Path exported;

    static Outcome cli(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(args);
            return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @BeforeAll
    static void exportWithNoFlags() {
        exported = tmp.resolve("minilm");
        Outcome o = cli("export", "--model", Fixtures.path("all-minilm-l6-v2").toString(), "--output", exported.toString());
        assertEquals(0, o.status(), o.stderr());
        assertEquals("feature-extraction", ModelConfig.readJson(exported.resolve("stepwise.json")).get("task").getAsString());
    }

    static float[] embedding(String line) {
        JsonArray a = JsonParser.parseString(line).getAsJsonObject().getAsJsonArray("embedding");
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).getAsFloat();
        }
        return v;
    }

    @Test
    void featureExtractionPrintsOneNormalisedEmbeddingPerInput() throws IOException {
        Outcome o = cli("pipeline", "feature-extraction", "--model", exported.toString(), "--normalize",
                "--input", "The cat sits outside.", "A man is playing guitar.");
        assertEquals(0, o.status(), o.stderr());
        assertEquals(2, o.lines().size(), o.stdout());
        for (String line : o.lines()) {
            float[] v = embedding(line);
            assertEquals(384, v.length);
            assertEquals(1.0, Math.sqrt(BertMiniLmTest.dot(v, v)), 1e-5);
        }
        Path file = tmp.resolve("inputs.txt");
        Files.writeString(file, "The cat sits outside.\n\nA man is playing guitar.\n");
        Outcome fromFile = cli("pipeline", "feature-extraction", "--model", exported.toString(), "--normalize",
                "--input-file", file.toString());
        assertEquals(o.lines(), fromFile.lines());
        Outcome cls = cli("pipeline", "feature-extraction", "--model", exported.toString(), "--pooling", "cls",
                "--input", "The cat sits outside.");
        assertTrue(BertMiniLmTest.cosine(embedding(cls.lines().get(0)), embedding(o.lines().get(0))) < 0.999,
                "CLS pooling differs from mean pooling");
    }

    @Test
    void quantizeOnTheExportInOneCommandThenPipeline() {
        Path q = tmp.resolve("int8");
        Outcome o = cli("quantize", "--model", exported.toString(), "--output", q.toString(),
                "--keep-float", "layer\\.\\d+\\.output\\.dense");
        assertEquals(0, o.status(), o.stderr());
        String text = "A quantized encoder still knows what a sentence means.";
        float[] f = embedding(cli("pipeline", "feature-extraction", "--model", exported.toString(), "--normalize",
                "--input", text).lines().get(0));
        Outcome qo = cli("pipeline", "feature-extraction", "--model", q.toString(), "--normalize", "--input", text);
        assertEquals(0, qo.status(), qo.stderr());
        double cos = BertMiniLmTest.cosine(f, embedding(qo.lines().get(0)));
        System.out.printf("int8 (FFN outputs float) vs fp32 export, pipeline embedding cosine %.5f%n", cos);
        assertTrue(cos > 0.99, "cosine " + cos);
    }

    @Test
    void textClassificationPrintsTheLabelsOfConfig() throws IOException {
        Path checkpoint = BertHeadCheckpoint.classifier(tmp.resolve("classifier-checkpoint"));
        Path out = tmp.resolve("classifier");
        assertEquals(0, cli("export", "--model", checkpoint.toString(), "--output", out.toString()).status());
        Outcome o = cli("pipeline", "text-classification", "--model", out.toString(),
                "--input", "I loved this film.", "Absolutely terrible.");
        assertEquals(0, o.status(), o.stderr());
        assertEquals(2, o.lines().size());
        for (String line : o.lines()) {
            JsonObject r = JsonParser.parseString(line).getAsJsonObject();
            assertTrue(BertHeadCheckpoint.LABELS.contains(r.get("label").getAsString()), line);
            double sum = 0;
            for (var s : r.getAsJsonArray("scores")) {
                sum += s.getAsJsonObject().get("score").getAsDouble();
            }
            assertEquals(1.0, sum, 1e-9);
        }
    }

    @Test
    void aTaskTheFolderWasNotExportedForIsOneLine() {
        Outcome o = cli("pipeline", "fill-mask", "--model", exported.toString(), "--input", "Paris is the [MASK].");
        assertEquals(1, o.status());
        assertEquals(1, o.stderr().lines().count(), o.stderr());
        assertTrue(o.stderr().startsWith("error: ") && o.stderr().contains("fill-mask needs an output 'logits' of"
                + " rank 3, the graph has outputs 'last_hidden_state' (rank 3)"), o.stderr());
        Outcome none = cli("pipeline", "feature-extraction", "--model", exported.toString());
        assertEquals(2, none.status());
        assertTrue(none.stderr().contains("no input: give --input TEXT... or --input-file FILE"), none.stderr());
        Outcome task = cli("pipeline", "summarization", "--model", exported.toString(), "--input", "x");
        assertEquals(1, task.status());
        assertTrue(task.stderr().contains("unknown task 'summarization'"), task.stderr());
        assertTrue(Stream.of(o, none, task).allMatch(x -> x.stdout().isEmpty()));
    }
}
