package dev.stepwise.runtime.generate;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Prints one generated sequence while it is produced, flushing after every piece: the prompt first, then each token
 * as the {@link Generator} reports it, then a newline. What it prints in total is exactly the line that printing the
 * finished sequence would give ({@code decode(prompt + generated)}, or the ids separated by spaces).
 *
 * <p>Text is decoded incrementally: a token may be part of a UTF-8 character (byte-level BPE, byte fallback) or a
 * sentencepiece piece whose leading "▁" only becomes a space next to the text before it, so tokens are never decoded
 * alone. After each token the whole sequence is decoded and the part beyond what was printed is printed, except while
 * the decoded text ends with U+FFFD (an incomplete character that later tokens will finish).
 */
public final class TokenStream implements Generator.TokenListener {
    private static final char REPLACEMENT = '\uFFFD';

    private final Consumer<String> sink;
    private final String end;
    private final Function<long[], String> decoder;
    private long[] ids;
    private int length;
    private String printed = "";
    private boolean started;

    private TokenStream(PrintStream out, Function<long[], String> decoder, long[] prompt) {
        this(piece -> {
            out.print(piece);
            out.flush();
        }, System.lineSeparator(), decoder, prompt);
    }

    private TokenStream(Consumer<String> sink, String end, Function<long[], String> decoder, long[] prompt) {
        this.sink = sink;
        this.end = end;
        this.decoder = decoder;
        this.ids = Arrays.copyOf(prompt, prompt.length + 16);
        this.length = prompt.length;
    }

    /**
     * Hands {@code pieces} the text generated after the prompt, piece by piece as tokens arrive (same incremental
     * decoding; no prompt, no newline): the streaming callback of the library's text generation.
     */
    public static TokenStream newText(Consumer<String> pieces, Function<long[], String> decoder, long[] prompt) {
        TokenStream stream = new TokenStream(pieces, "", decoder, prompt);
        stream.printed = decoder.apply(prompt);
        stream.started = true;
        return stream;
    }

    /** Streams text: {@code decoder} turns ids into text (special tokens skipped, as the final output does). */
    public static TokenStream text(PrintStream out, Function<long[], String> decoder, long[] prompt) {
        return new TokenStream(out, decoder, prompt);
    }

    /** Streams ids separated by spaces, the format of {@code generate --print-ids}. */
    public static TokenStream ids(PrintStream out, long[] prompt) {
        return new TokenStream(out, null, prompt);
    }

    /**
     * Prints the prompt (its text, or its ids) with the first token, so that a generation failing before its first
     * token leaves nothing on the output.
     */
    private void start() {
        started = true;
        if (decoder == null) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < length; i++) {
                sb.append(i > 0 ? " " : "").append(ids[i]);
            }
            emit(sb.toString());
        } else {
            catchUp(false);
        }
    }

    /** One more token of the sequence (row 0: this prints one sequence only). */
    @Override
    public void onToken(int row, int step, long token) {
        if (row != 0) {
            throw new IllegalStateException("a TokenStream prints one sequence; got a token of row " + row);
        }
        if (!started) {
            start();
        }
        if (length == ids.length) {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
        ids[length++] = token;
        if (decoder == null) {
            emit((length > 1 ? " " : "") + token);
        } else {
            catchUp(false);
        }
    }

    /** Prints what was held back (an incomplete character at the very end is printed as U+FFFD) and the newline. */
    public void finish() {
        if (!started) {
            start();
        }
        if (decoder != null) {
            catchUp(true);
        }
        if (!end.isEmpty()) {
            sink.accept(end);
        }
    }

    /** The text printed so far (text mode). */
    String printed() {
        return printed;
    }

    private void catchUp(boolean last) {
        String text = decoder.apply(Arrays.copyOf(ids, length));
        if (!last && !text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT) {
            return;
        }
        // Decoding is prefix-stable for the tokenizers we run; if a decoder ever rewrote earlier text, printing more
        // would garble the line, so the rest then waits for the next token that restores the printed prefix.
        if (text.startsWith(printed) && text.length() > printed.length()) {
            emit(text.substring(printed.length()));
            printed = text;
        }
    }

    private void emit(String piece) {
        sink.accept(piece);
    }
}
