package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every generation option either works on an engine or is refused with exit status 2 and a line naming the option
 * and the engine: the step graphs of an unrolled folder take the Java generator's options (and give the exported
 * folder's tokens); the loop graph refuses beam search and the repetition penalty.
 */
class GenerateEngineOptionsTest {
    @TempDir
    static Path tmp;
    static Path exported;
    static Path unrolled;

    record Run(int status, String out, String err) {
    }

    static Run run(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(args);
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @BeforeAll
    static void exportAndUnroll() throws IOException {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 21);
        exported = tmp.resolve("exported");
        unrolled = tmp.resolve("unrolled");
        assertEquals(0, run("export", "--model", checkpoint.toString(), "--output", exported.toString(),
                "--generation", "loop").status());
        assertEquals(0, run("unroll", "--model", checkpoint.toString(), "--output", unrolled.toString(),
                "--batch-size", "1", "--sequence-length", "8", "--max-new-tokens", "5").status());
    }

    @Test
    void stepGraphsTakeTheJavaGeneratorsOptions() {
        String[] request = {"--input-ids", "5,6,7,8,9,10", "--max-new-tokens", "5", "--print-ids",
            "--repetition-penalty", "1.3", "--no-repeat-ngram-size", "2", "--min-new-tokens", "3"};
        Run steps = run(concat(new String[] {"generate", "--model", unrolled.toString()}, request));
        Run java = run(concat(new String[] {"generate", "--model", exported.toString()}, request));
        assertEquals(0, steps.status(), steps.err());
        assertEquals(java.out(), steps.out(), "a prompt shorter than the unrolled length, left padded");
        Run sampled = run("generate", "--model", unrolled.toString(), "--input-ids", "5,6,7,8,9,10,11,12",
                "--max-new-tokens", "4", "--print-ids", "--do-sample", "--seed", "3");
        Run sampledJava = run("generate", "--model", exported.toString(), "--input-ids", "5,6,7,8,9,10,11,12",
                "--max-new-tokens", "4", "--print-ids", "--do-sample", "--seed", "3");
        assertEquals(sampledJava.out(), sampled.out());
    }

    @Test
    void optionsAnEngineCannotHonourExitTwoNamingBoth() {
        assertRefused(run("generate", "--model", unrolled.toString(), "--input-ids", "5,6,7", "--print-ids", "--num-beams", "2"),
                "num_beams 2 is not supported by the step-graph engine");
        assertRefused(run("generate", "--model", unrolled.toString(), "--input-ids", "5,6,7", "--print-ids", "--max-new-tokens", "6"),
                "max_new_tokens 6 is not supported by the step-graph engine");
        assertRefused(run("generate", "--model", unrolled.toString(), "--input-ids", "5,6,7", "--print-ids", "--engine", "loop"),
                "--engine loop");
        assertRefused(run("generate", "--model", exported.toString(), "--input-ids", "5,6,7", "--print-ids", "--engine", "loop",
                "--repetition-penalty", "1.3"), "repetition_penalty 1.3 is not supported by the loop engine");
        assertRefused(run("generate", "--model", exported.toString(), "--input-ids", "5,6,7", "--print-ids", "--engine", "loop",
                "--num-beams", "2"), "num_beams 2 is not supported by the loop engine");
    }

    static void assertRefused(Run r, String expected) {
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
