package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stepwise demo} on its embedded trained model: every stage runs, is timed and writes its folder; the float
 * export's text is, character for character, the text transformers generated from the same weights and
 * {@code generation_config.json} (recorded in the model's {@code training.json} by {@code tools/demo_model/train.py});
 * the int8 and step-graph folders generate text too; and each row of the left-padded batch gets the tokens it gets
 * alone.
 */
class DemoCommandTest {
    static final List<String> PROMPTS = List.of("def fib(n):", "import os\n", "class Stack:");

    @TempDir
    static Path work;
    static String out;
    static String err;

    @BeforeAll
    static void runDemo() {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.run("demo", "--work-dir", work.toString());
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, "stepwise demo failed:\n" + err);
    }

    @Test
    void everyStageRanTimedWithItsSize() {
        for (String stage : List.of("checkpoint", "export", "quantize", "unroll")) {
            Matcher m = Pattern.compile("  -> " + stage + ": ([0-9.]+) s, ([0-9.]+) MB on disk").matcher(err);
            assertTrue(m.find(), "no timing line for " + stage + " in:\n" + err);
            assertTrue(Double.parseDouble(m.group(2)) > 0.5, stage + " wrote " + m.group(2) + " MB");
        }
        assertTrue(err.contains("  -> generate: "), err);
        assertEquals(3, Pattern.compile("(?m)^validated  .+ worst max abs diff").matcher(err).results().count(), err);
        assertTrue(err.contains("quantized  "), err);
        assertTrue(err.contains("unrolled 8 step graphs"), err);
        assertTrue(err.contains("demo finished in "), err);

        assertTrue(Files.isRegularFile(work.resolve("onnx/model.onnx")));
        assertTrue(Files.isRegularFile(work.resolve("onnx-int8/model.onnx")));
        for (int s = 0; s < 8; s++) {
            assertTrue(Files.isRegularFile(work.resolve("unrolled/decoder_model-opt_gen_step=" + s + ".onnx")), "step " + s);
        }
    }

    @Test
    void floatExportGeneratesTheTextTransformersGenerated() throws IOException {
        JsonObject training;
        try (InputStream in = Main.class.getResourceAsStream("demo/training.json")) {
            training = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
        JsonArray samples = training.getAsJsonArray("samples_transformers_fp32");
        for (String prompt : PROMPTS) {
            String expected = null;
            for (JsonElement s : samples) {
                if (s.getAsJsonObject().get("prompt").getAsString().equals(prompt)) {
                    expected = s.getAsJsonObject().get("generation_config").getAsString();
                }
            }
            assertTrue(expected != null && expected.codePoints().filter(Character::isLetter).count() > 10,
                    "training.json has no text sample for " + prompt);
            String block = "--- fp32: \"" + prompt.replace("\n", "\\n") + "\" ---\n" + prompt + expected + "\n";
            assertTrue(out.contains(block), "expected\n" + block + "\nin\n" + out);
        }
    }

    @Test
    void quantizedAndUnrolledFoldersGenerateText() {
        for (String prompt : PROMPTS) {
            String header = "--- int8: \"" + prompt.replace("\n", "\\n") + "\" ---\n";
            int at = out.indexOf(header);
            assertTrue(at >= 0, out);
            String text = out.substring(at + header.length()).split("\n--- ", 2)[0];
            assertTrue(text.startsWith(prompt) && text.length() > prompt.length() + 20, text);
            assertFalse(text.substring(prompt.length()).matches("[0-9 \\n]*"), "ids, not text: " + text);
        }
        assertTrue(out.contains("--- step graphs: \"def fib(n):\" ---\ndef fib(n):"), out);
        assertTrue(err.contains("the start of the fp32 export's text: yes"), err);
    }

    @Test
    void paddedBatchRowsMatchEachRowAlone() {
        Matcher m = Pattern.compile("padded batch row (\\d) .*same as generating the row alone: (\\S+)").matcher(err);
        int rows = 0;
        while (m.find()) {
            assertEquals("yes", m.group(2), err);
            rows++;
        }
        assertEquals(PROMPTS.size(), rows, err);
    }
}
