package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import dev.stepwise.processor.Seq2SeqConfigModel.DecoderGraphModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.util.Types;

/**
 * Checks a {@link Seq2SeqConfigModel}: the class, then the encoder with the encoder-only checks (its sequence axis
 * named {@code encoder_sequence_length}), then the decoder: its three inputs, its logits, and its two caches. The self
 * cache grows along {@code past_decoder_sequence_length}; the cross cache is computed once from
 * {@code encoder_hidden_states}, so its sequence axis can only be the encoder's. Both caches share one layout apart
 * from that axis, since the runtime lays them out alike.
 */
final class Seq2SeqConfigValidator {
    static final String DECODER_SEQUENCE = "decoder_sequence_length";
    static final String PAST_DECODER_SEQUENCE = "past_decoder_sequence_length";
    static final String TOTAL_DECODER_SEQUENCE = PAST_DECODER_SEQUENCE + " + " + DECODER_SEQUENCE;
    private static final String ENCODER_SEQUENCE = EncoderConfigValidator.ENCODER_SEQUENCE;
    /** The decoder's axis symbols, besides the one sum a present self cache gets. */
    private static final Set<String> DECODER_AXES = Set.of("batch_size", DECODER_SEQUENCE, PAST_DECODER_SEQUENCE,
            ENCODER_SEQUENCE, "hidden_size", "vocab_size", "num_attention_heads", "head_dim");
    /** The decoder inputs the runtime fills, with their layouts. */
    private static final Map<String, List<String>> INPUT_AXES = inputAxes();
    private static final List<String> LOGITS_AXES = List.of("batch_size", DECODER_SEQUENCE, "vocab_size");

    private final Diagnostics report;
    private final AnnotatedClassCheck classCheck;
    private final EncoderConfigValidator encoderChecks;

    /** {@code encoderChecks} must report through {@code report} too, so its errors count for the whole class. */
    Seq2SeqConfigValidator(Diagnostics report, Types types, EncoderConfigValidator encoderChecks) {
        this.report = report;
        this.classCheck = new AnnotatedClassCheck(types, "@Seq2SeqConfig", RuntimeTypes.SEQ2SEQ_LM.canonicalName());
        this.encoderChecks = encoderChecks;
    }

    boolean validate(Seq2SeqConfigModel model) {
        report.start(model.type());
        classCheck.check(model.type(), report::error);
        encoderChecks.checkSeq2SeqEncoder(model);
        DecoderGraphModel decoder = model.decoder();
        checkInputs(decoder);
        checkOutputs(decoder);
        boolean selfOk = checkCache("self-attention", decoder.selfCache());
        boolean crossOk = checkCache("cross-attention", decoder.crossCache());
        if (selfOk) {
            checkSelfLayout(decoder.selfCache());
        }
        if (crossOk) {
            checkCrossLayout(decoder.crossCache());
        }
        if (selfOk && crossOk) {
            checkSameLayout(decoder.selfCache(), decoder.crossCache());
        }
        checkDistinctPatterns(decoder);
        return report.clean();
    }

    private static Map<String, List<String>> inputAxes() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put(OnnxConfigModel.INPUT_IDS, List.of("batch_size", DECODER_SEQUENCE));
        m.put(Seq2SeqConfigModel.ENCODER_ATTENTION_MASK, List.of("batch_size", ENCODER_SEQUENCE));
        m.put(Seq2SeqConfigModel.ENCODER_HIDDEN_STATES, List.of("batch_size", ENCODER_SEQUENCE, "hidden_size"));
        return m;
    }

    private void checkInputs(DecoderGraphModel d) {
        if (d.input(OnnxConfigModel.INPUT_IDS).isEmpty()) {
            report.error(d.inputsWhere(), "no decoder input named \"input_ids\"; expected the decoder to take its new"
                    + " tokens input_ids [batch_size, decoder_sequence_length]");
        }
        if (d.input(Seq2SeqConfigModel.ENCODER_HIDDEN_STATES).isEmpty()) {
            report.error(d.inputsWhere(), "no decoder input named \"encoder_hidden_states\"; expected the decoder to"
                    + " take the encoder's output encoder_hidden_states [batch_size, encoder_sequence_length,"
                    + " hidden_size], from which its cross-attention cache is computed");
        }
        if (d.input(Seq2SeqConfigModel.ENCODER_ATTENTION_MASK).isEmpty()) {
            report.error(d.inputsWhere(), "no decoder input named \"encoder_attention_mask\"; expected the decoder to"
                    + " take encoder_attention_mask [batch_size, encoder_sequence_length], since a padded batch's"
                    + " encoder output has padding the cross-attention must not see");
        }
        Map<String, TensorModel> seen = new HashMap<>();
        for (TensorModel t : d.inputs()) {
            String name = t.name().value();
            if (seen.putIfAbsent(name, t) != null) {
                report.error(t.name().where(), "duplicate tensor name \"" + name + "\": " + t.describe() + " is already"
                        + " declared; expected every decoder input to have its own name");
                continue;
            }
            List<String> expected = INPUT_AXES.get(name);
            if (expected == null) {
                report.error(t.name().where(), t.describe() + " is not an input the runtime can fill; expected"
                        + " input_ids, encoder_attention_mask or encoder_hidden_states (the caches are declared by"
                        + " selfCache and crossCache)");
                continue;
            }
            DType type = t.type().value();
            boolean floats = name.equals(Seq2SeqConfigModel.ENCODER_HIDDEN_STATES);
            if (floats && type != DType.FLOAT && type != DType.FLOAT16) {
                report.error(t.type().where(), t.describe() + " has type " + type + "; expected FLOAT or FLOAT16, the"
                        + " encoder's output type");
            } else if (!floats && type != DType.INT64 && type != DType.INT32) {
                report.error(t.type().where(), t.describe() + " has type " + type + "; expected INT64 or INT32");
            }
            checkAxisSymbols(t.axes(), t.describe());
            List<String> axes = t.axisTexts().toList();
            if (!axes.equals(expected)) {
                report.error(t.axesWhere(), t.describe() + " has axes " + axes + "; expected " + expected);
            }
        }
    }

    private void checkOutputs(DecoderGraphModel d) {
        if (d.outputs().size() != 1) {
            report.error(d.outputsWhere(), "the decoder declares " + d.outputs().size() + " outputs besides its caches;"
                    + " expected exactly one, logits [batch_size, decoder_sequence_length, vocab_size]");
        }
        for (TensorModel t : d.outputs()) {
            if (!t.name().value().equals(OnnxConfigModel.LOGITS)) {
                report.error(t.name().where(), t.describe() + " is not named logits; expected logits, the name"
                        + " optimum and the generator use");
            }
            DType type = t.type().value();
            if (type != DType.FLOAT && type != DType.FLOAT16) {
                report.error(t.type().where(), t.describe() + " has type " + type + "; expected FLOAT or FLOAT16");
            }
            checkAxisSymbols(t.axes(), t.describe());
            List<String> axes = t.axisTexts().toList();
            if (!axes.equals(LOGITS_AXES)) {
                report.error(t.axesWhere(), t.describe() + " has axes " + axes + "; expected " + LOGITS_AXES);
            }
        }
    }

    /** Name patterns, type, rank and symbols of one cache; true when its layout can be checked further. */
    private boolean checkCache(String which, CacheModel c) {
        for (Located<String> pattern : List.of(c.past(), c.present())) {
            String p = pattern.value();
            if (!p.contains(CacheModel.LAYER) || !p.contains(CacheModel.KIND)) {
                report.error(pattern.where(), "the " + which + " cache name pattern \"" + p + "\" lacks "
                        + (p.contains(CacheModel.LAYER) ? "{kind}" : "{layer}") + "; expected both {layer} and {kind},"
                        + " e.g. \"past_key_values.{layer}.decoder.{kind}\"");
            }
        }
        if (c.past().value().equals(c.present().value())) {
            report.error(c.present().where(), "the " + which + " cache's present pattern equals its past pattern \""
                    + c.past().value() + "\"; expected distinct patterns");
        }
        DType t = c.type().value();
        if (t != DType.FLOAT && t != DType.FLOAT16) {
            report.error(c.type().where(), "the " + which + " cache type " + t + " is not a floating type; expected"
                    + " FLOAT or FLOAT16");
        }
        if (c.axes().size() != 4) {
            report.error(c.axesWhere(), "the " + which + " cache layout has " + c.axes().size() + " axes; expected 4,"
                    + " e.g. [batch_size, num_attention_heads, " + (which.startsWith("self") ? PAST_DECODER_SEQUENCE
                    : ENCODER_SEQUENCE) + ", head_dim]");
            return false;
        }
        return checkAxisSymbols(c.axes(), "the " + which + " cache layout");
    }

    private void checkSelfLayout(CacheModel c) {
        List<String> axes = texts(c);
        for (Located<String> a : c.axes()) {
            if (a.value().equals(ENCODER_SEQUENCE) || a.value().equals(DECODER_SEQUENCE)) {
                report.error(a.where(), "self-attention cache axis \"" + a.value() + "\" is not the decoder's past;"
                        + " expected past_decoder_sequence_length, the axis the self cache grows along");
            }
        }
        if (!axes.contains(PAST_DECODER_SEQUENCE)) {
            report.error(c.axesWhere(), "the self-attention cache layout " + axes + " has no"
                    + " past_decoder_sequence_length axis; expected the axis it grows along, e.g. [batch_size,"
                    + " num_attention_heads, past_decoder_sequence_length, head_dim]");
        }
        if (!axes.contains("batch_size")) {
            report.error(c.axesWhere(), "the self-attention cache layout " + axes + " has no batch_size axis;"
                    + " expected one");
        }
    }

    private void crossAxisError(Located<String> a) {
        report.error(a.where(), "cross-attention cache axis \"" + a.value() + "\" is not the encoder's sequence;"
                + " expected encoder_sequence_length, since the cross cache is computed once from"
                + " encoder_hidden_states");
    }

    private void checkCrossLayout(CacheModel c) {
        List<String> axes = texts(c);
        for (Located<String> a : c.axes()) {
            if (a.value().equals(PAST_DECODER_SEQUENCE) || a.value().equals(DECODER_SEQUENCE)) {
                crossAxisError(a);
            }
        }
        if (!axes.contains(ENCODER_SEQUENCE) && axes.stream().noneMatch(
                a -> a.equals(PAST_DECODER_SEQUENCE) || a.equals(DECODER_SEQUENCE))) {
            report.error(c.axesWhere(), "the cross-attention cache layout " + axes + " has no encoder_sequence_length"
                    + " axis; expected e.g. [batch_size, num_attention_heads, encoder_sequence_length, head_dim]");
        }
        if (!axes.contains("batch_size")) {
            report.error(c.axesWhere(), "the cross-attention cache layout " + axes + " has no batch_size axis;"
                    + " expected one");
        }
    }

    /** The runtime lays both caches out alike: the layouts may differ only in the sequence axis. */
    private void checkSameLayout(CacheModel self, CacheModel cross) {
        List<String> a = texts(self).stream().map(x -> x.equals(PAST_DECODER_SEQUENCE) ? "*" : x).toList();
        List<String> b = texts(cross).stream().map(x -> x.equals(ENCODER_SEQUENCE) ? "*" : x).toList();
        if (a.contains("*") && b.contains("*") && !a.equals(b)) {
            report.error(cross.axesWhere(), "the cross-attention cache layout " + texts(cross) + " differs from the"
                    + " self-attention layout " + texts(self) + " in more than the sequence axis; expected the same"
                    + " layout with encoder_sequence_length in place of past_decoder_sequence_length");
        }
    }

    /** The four patterns name four families of tensors: none may equal another. */
    private void checkDistinctPatterns(DecoderGraphModel d) {
        Map<String, String> seen = new HashMap<>();
        List<Object[]> patterns = new ArrayList<>();
        patterns.add(new Object[] {"self-attention past", d.selfCache().past()});
        patterns.add(new Object[] {"self-attention present", d.selfCache().present()});
        patterns.add(new Object[] {"cross-attention past", d.crossCache().past()});
        patterns.add(new Object[] {"cross-attention present", d.crossCache().present()});
        for (int i = 0; i < patterns.size(); i++) {
            String role = (String) patterns.get(i)[0];
            @SuppressWarnings("unchecked")
            Located<String> p = (Located<String>) patterns.get(i)[1];
            String first = seen.putIfAbsent(p.value(), role);
            // a past equal to its own present is reported by checkCache
            if (first != null && !(i % 2 == 1 && first.equals(patterns.get(i - 1)[0]))) {
                report.error(p.where(), "the " + role + " cache name pattern \"" + p.value() + "\" is also the " + first
                        + " pattern; expected the self- and cross-attention caches named apart, e.g. \"...decoder...\""
                        + " and \"...encoder...\"");
            }
        }
    }

    private boolean checkAxisSymbols(List<Located<String>> axes, String owner) {
        boolean ok = true;
        for (Located<String> a : axes) {
            if (DECODER_AXES.contains(a.value())) {
                continue;
            }
            ok = false;
            String hint = a.value().equals("sequence_length") || a.value().equals("past_sequence_length")
                    ? " (an encoder-decoder names the decoder's sequence decoder_sequence_length, its past"
                    + " past_decoder_sequence_length, the encoder's encoder_sequence_length)" : "";
            report.error(a.where(), "unknown axis symbol \"" + a.value() + "\" in " + owner + "; expected one of "
                    + String.join(", ", DECODER_AXES.stream().sorted().toList()) + hint);
        }
        return ok;
    }

    private static List<String> texts(CacheModel c) {
        return c.axes().stream().map(Located::value).toList();
    }
}
