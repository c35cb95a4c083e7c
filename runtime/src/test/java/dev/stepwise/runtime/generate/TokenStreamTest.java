package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Streaming output: tokens reach the output while the loop is still generating (not after it), text is decoded
 * incrementally without broken characters or lost sentencepiece spaces, and the streamed line equals the line the
 * finished sequence prints.
 */
class TokenStreamTest {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    String output() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** The hash model, recording what had been printed each time the loop asked it for one more step. */
    final class RecordingModel implements StepModel {
        final FakeLm lm;
        final List<String> printedAtStep = new ArrayList<>();

        RecordingModel(List<long[]> prompts) {
            lm = new FakeLm(50, 2f, prompts);
        }

        @Override
        public int rows() {
            return lm.rows();
        }

        @Override
        public float[] logits(int row) {
            return lm.logits(row);
        }

        @Override
        public void step(long[] tokens) {
            printedAtStep.add(output());
            lm.step(tokens);
        }

        @Override
        public void reorder(int[] from) {
            lm.reorder(from);
        }
    }

    @Test
    void idsAppearBeforeGenerationEnds() {
        long[] prompt = {7, 8, 9};
        RecordingModel model = new RecordingModel(List.of(prompt));
        TokenStream stream = TokenStream.ids(out, prompt);
        List<long[]> done = TokenLoop.run(model, List.of(prompt), GenerationConfig.greedy(8), Set.of(-1L), 0, stream);
        stream.finish();

        long[] all = done.get(0);
        assertEquals(11, all.length, "3 prompt ids + 8 new ones");
        // Before the model computes step k, the prompt and the k tokens chosen so far are already on the output.
        assertEquals(7, model.printedAtStep.size());
        for (int k = 1; k <= 7; k++) {
            assertEquals(join(Arrays.copyOf(all, 3 + k)), model.printedAtStep.get(k - 1), "printed before step " + k);
        }
        assertEquals(join(all) + System.lineSeparator(), output(), "the streamed line is the finished sequence's line");
    }

    @Test
    void nothingIsPrintedBeforeTheFirstToken() {
        TokenStream.text(out, ids -> "prompt", new long[] {1});
        TokenStream.ids(out, new long[] {1, 2});
        assertEquals("", output(), "a generation failing before its first token leaves stdout empty");
    }

    @Test
    void incompleteUtf8IsHeldBack() {
        // Ids are bytes; decoding a cut multi-byte character gives U+FFFD, as byte-level tokenizers do.
        String text = "héllo 🙂 日本";
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        long[] prompt = {utf8[0] & 0xff};
        TokenStream stream = TokenStream.text(out, TokenStreamTest::bytesToText, prompt);
        List<String> seen = new ArrayList<>();
        for (int i = 1; i < utf8.length; i++) {
            stream.onToken(0, i - 1, utf8[i] & 0xff);
            seen.add(output());
        }
        stream.finish();
        for (String s : seen) {
            assertFalse(s.contains("\uFFFD"), "no replacement character is ever printed: " + s);
            assertTrue(text.startsWith(s), "every printed prefix is a prefix of the text: " + s);
        }
        int emojiStart = "héllo ".getBytes(StandardCharsets.UTF_8).length;   // seen.get(i) is after byte i + 1
        assertEquals("héllo ", seen.get(emojiStart), "after 2 of the emoji's 4 bytes nothing more is printed");
        assertEquals(text + System.lineSeparator(), output());
    }

    @Test
    void realTokenizersStreamTheFinalText() {
        String text = "Hello wörld 🙂 日本語,  two  spaces\nand ünïcode ✓ end";
        for (String fixture : new String[] {"gpt2-fake-tokenizer-50k", "llama-tiny-random-fp16", "pylm-llama-trained"}) {
            bytes.reset();
            try (TextTokenizer tokenizer = TextTokenizer.open(Fixtures.path(fixture))) {
                long[] all = tokenizer.encode(text);
                long[] prompt = Arrays.copyOf(all, 2);
                TokenStream stream = TokenStream.text(out, tokenizer::decode, prompt);
                StringBuilder naive = new StringBuilder(tokenizer.decode(prompt));
                for (int i = 2; i < all.length; i++) {
                    stream.onToken(0, i - 2, all[i]);
                    naive.append(tokenizer.decode(new long[] {all[i]}));
                    assertFalse(output().contains("\uFFFD"), fixture + ": no broken character is printed: " + output());
                }
                stream.finish();
                assertEquals(tokenizer.decode(all) + System.lineSeparator(), output(), fixture);
                assertEquals(text, tokenizer.decode(all), fixture + " round trip");
                // Decoding tokens one by one would break characters (byte-level) or drop spaces (sentencepiece).
                assertNotEquals(text, naive.toString(), fixture + ": per-token decoding is not the text");
            }
        }
    }

    static String bytesToText(long[] ids) {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    static String join(long[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            sb.append(i > 0 ? " " : "").append(ids[i]);
        }
        return sb.toString();
    }
}
