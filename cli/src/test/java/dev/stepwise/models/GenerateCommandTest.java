package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate} through the CLI on exported fixtures: prompts carry the special tokens transformers adds (LLaMA's
 * BOS, nothing for GPT-2) and {@code --print-prompt-ids} shows them on stderr; one sequence streams to stdout in
 * pieces, flushed as tokens come, and the streamed line equals the line printed at the end for a batch.
 */
class GenerateCommandTest {
    @TempDir
    static Path tmp;
    static Path gpt2;
    static Path llama;

    /** stdout as the pieces that were on it at each flush. */
    static final class FlushLog extends PrintStream {
        final ByteArrayOutputStream bytes;
        final List<String> atFlush = new ArrayList<>();

        FlushLog(ByteArrayOutputStream bytes) {
            super(bytes, false, StandardCharsets.UTF_8);
            this.bytes = bytes;
        }

        @Override
        public void flush() {
            super.flush();
            String now = bytes.toString(StandardCharsets.UTF_8);
            if (atFlush.isEmpty() || !atFlush.get(atFlush.size() - 1).equals(now)) {
                atFlush.add(now);
            }
        }
    }

    record Run(String out, String err, List<String> flushes) {
    }

    static Run run(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        FlushLog out = new FlushLog(new ByteArrayOutputStream());
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(out);
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(args);
            out.flush();
            String errText = err.toString(StandardCharsets.UTF_8);
            assertEquals(0, status, "stepwise " + String.join(" ", args) + " failed: " + errText);
            return new Run(out.bytes.toString(StandardCharsets.UTF_8), errText, out.atFlush);
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @BeforeAll
    static void export() {
        gpt2 = tmp.resolve("gpt2-50k");
        llama = tmp.resolve("llama");
        run("export", "--model", Fixtures.path("gpt2-fake-tokenizer-50k").toString(), "--output", gpt2.toString());
        run("export", "--model", Fixtures.path("llama-tiny-random-fp16").toString(), "--output", llama.toString());
    }

    @Test
    void llamaPromptStartsWithBos() {
        Run r = run("generate", "--model", llama.toString(), "--prompt", "Hello, my name is", "--max-new-tokens", "3",
                "--print-prompt-ids", "--print-ids");
        // transformers 5.17: LlamaTokenizer("Hello, my name is") = <s> + 5 ids (tools/tokenizer_goldens.py)
        assertTrue(r.err().contains("prompt ids: 1 15043 29892 590 1024 338"), "stderr: " + r.err());
        assertTrue(r.out().startsWith("1 15043 29892 590 1024 338 "), "stdout has only the sequence: " + r.out());
        assertEquals(1, r.out().lines().count(), "one line on stdout: " + r.out());
    }

    @Test
    void gpt2PromptHasNoSpecialTokens() {
        Run r = run("generate", "--model", gpt2.toString(), "--prompt", "Hello, my name is", "--max-new-tokens", "2",
                "--print-prompt-ids");
        assertEquals("prompt ids: 15496 11 616 1438 318", r.err().strip());
    }

    @Test
    void textStreamsTokenByToken() {
        Run streamed = run("generate", "--model", gpt2.toString(), "--prompt", "Hello, my name is", "--max-new-tokens", "8");
        // the prompt, then one piece per token (a piece can wait for the next token to finish a character), then "\n"
        assertTrue(streamed.flushes().size() >= 6, "stdout grew in pieces: " + streamed.flushes());
        assertTrue(streamed.flushes().get(0).equals("Hello, my name is"), "the prompt comes first: " + streamed.flushes());
        for (int i = 1; i < streamed.flushes().size(); i++) {
            assertTrue(streamed.flushes().get(i).startsWith(streamed.flushes().get(i - 1)), "each flush appends");
        }
        // Two prompts print at the end, each line as the single prompt streamed it.
        Run batch = run("generate", "--model", gpt2.toString(), "--input-ids", "15496,11,616,1438,318;15496,11,616,1438,318",
                "--max-new-tokens", "8");
        assertEquals(streamed.out() + streamed.out(), batch.out());
        assertEquals(1, batch.flushes().size(), "a batch is printed in one piece at the end: " + batch.flushes());
    }

    @Test
    void idsStream() {
        Run streamed = run("generate", "--model", gpt2.toString(), "--input-ids", "15496,11,616,1438,318",
                "--max-new-tokens", "6", "--print-ids");
        List<String> f = streamed.flushes();
        assertEquals(List.of("15496 11 616 1438 318"), f.subList(0, 1), "the prompt ids first");
        assertEquals(1 + 6 + 1, f.size(), "prompt, 6 tokens, newline: " + f);
        Run batch = run("generate", "--model", gpt2.toString(), "--input-ids", "15496,11,616,1438,318;15496,11,616,1438,318",
                "--max-new-tokens", "6", "--print-ids");
        assertEquals(streamed.out() + streamed.out(), batch.out());
    }
}
