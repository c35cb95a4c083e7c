package dev.stepwise.processor;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parsed axis: one symbol ({@code batch_size}) or the sum of two ({@code past_sequence_length + sequence_length}).
 * The axis string becomes the ONNX {@code dim_param}, so only the canonical spelling {@code "a + b"} (one space on
 * each side of the plus) is accepted: two spellings of one sum would be two different symbolic dims.
 */
record Axis(String text, List<AxisSymbol> terms) {
    static final String TOTAL_SEQUENCE = "past_sequence_length + sequence_length";

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern SUM = Pattern.compile("(" + NAME + ") \\+ (" + NAME + ")");

    /** The outcome of parsing: an axis, or why the text is not one. */
    sealed interface Parsed permits Valid, Unknown, Malformed {
    }

    record Valid(Axis axis) implements Parsed {
    }

    /** Well-formed, but {@code symbol} is not in the vocabulary. */
    record Unknown(String symbol) implements Parsed {
    }

    /** Neither a symbol nor {@code "a + b"}. */
    record Malformed() implements Parsed {
    }

    static Parsed parse(String text) {
        if (NAME.matcher(text).matches()) {
            Optional<AxisSymbol> s = AxisSymbol.DECODER.of(text);
            return s.<Parsed>map(symbol -> new Valid(new Axis(text, List.of(symbol)))).orElse(new Unknown(text));
        }
        Matcher sum = SUM.matcher(text);
        if (!sum.matches()) {
            return new Malformed();
        }
        Optional<AxisSymbol> a = AxisSymbol.DECODER.of(sum.group(1));
        Optional<AxisSymbol> b = AxisSymbol.DECODER.of(sum.group(2));
        if (a.isEmpty()) {
            return new Unknown(sum.group(1));
        }
        if (b.isEmpty()) {
            return new Unknown(sum.group(2));
        }
        return new Valid(new Axis(text, List.of(a.get(), b.get())));
    }

    /** Parses text already accepted by the validator. */
    static Axis of(String text) {
        Parsed p = parse(text);
        if (p instanceof Valid v) {
            return v.axis();
        }
        throw new IllegalArgumentException("axis \"" + text + "\" was not validated");
    }

    boolean isSum() {
        return terms.size() == 2;
    }

    /** True for the single symbol {@code symbol} (not a sum containing it). */
    boolean is(AxisSymbol symbol) {
        return terms.equals(List.of(symbol));
    }

    boolean mentions(AxisSymbol symbol) {
        return terms.contains(symbol);
    }
}
