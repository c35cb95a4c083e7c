package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gpt2-fake-tokenizer-50k} (a transformers save_pretrained checkpoint with the real GPT-2 tokenizer) exports
 * through the CLI and generates from a text prompt; the text path and the id path agree.
 */
class Gpt2TokenizerFixtureTest {
    @TempDir
    Path tmp;

    String run(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(args);
            assertEquals(0, status, "stepwise " + String.join(" ", args) + " failed: " + err.toString(StandardCharsets.UTF_8));
            return out.toString(StandardCharsets.UTF_8);
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @Test
    void exportsAndGeneratesFromText() throws Exception {
        Path exported = tmp.resolve("gpt2-50k");
        run("export", "--model", Fixtures.path("gpt2-fake-tokenizer-50k").toString(), "--output", exported.toString());
        for (String f : new String[] {"model.onnx", "config.json", "generation_config.json", "tokenizer.json"}) {
            assertTrue(Files.exists(exported.resolve(f)), f + " is in the export folder");
        }

        String text = run("generate", "--model", exported.toString(), "--prompt", "Hello, my name is", "--max-new-tokens", "6");
        assertTrue(text.startsWith("Hello, my name is"), "decoded text starts with the prompt: " + text);
        assertTrue(text.strip().length() > "Hello, my name is".length(), "new text was generated: " + text);

        // "Hello, my name is" is 15496 11 616 1438 318 in GPT-2's vocabulary.
        String ids = run("generate", "--model", exported.toString(), "--input-ids", "15496,11,616,1438,318",
                "--max-new-tokens", "6", "--print-ids");
        String[] tokens = ids.strip().split(" ");
        assertEquals(11, tokens.length, "5 prompt ids + 6 new ids: " + ids);
        assertEquals("15496 11 616 1438 318", String.join(" ", java.util.Arrays.copyOf(tokens, 5)));
    }
}
