package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import javax.lang.model.util.Types;

/**
 * Checks an {@link OnnxConfigModel} and reports every problem it finds, not just the first, each on the annotated
 * class and, where there is one, the offending (nested) annotation value, saying what is wrong and what was expected.
 * Generation runs only for a model with no problem.
 */
final class OnnxConfigValidator {
    private static final Set<String> ID_INPUTS =
            Set.of(OnnxConfigModel.INPUT_IDS, OnnxConfigModel.ATTENTION_MASK, OnnxConfigModel.POSITION_IDS);

    private final Diagnostics report;
    private final DeclarationChecks declaration;

    OnnxConfigValidator(Diagnostics report, Types types) {
        this.report = report;
        this.declaration = DeclarationChecks.decoder(report, types);
    }

    /** Reports every problem of {@code model}; true when there is none. */
    boolean validate(OnnxConfigModel model) {
        declaration.checkDeclaration(model, model.tasksWhere(), model.tasks());
        // '&', not '&&': the outputs are checked even when an input has a bad axis
        boolean axesParse = checkTensorShapes(model.inputs()) & checkTensorShapes(model.outputs());
        boolean cacheParses = checkCache(model.cache());
        checkNames(model);
        checkRequiredTensors(model);
        checkIdInputs(model);
        checkAttentionMask(model);
        if (axesParse && cacheParses) {
            // which sizes are defined is only meaningful once every axis means something
            checkOutputAxesAreDefined(model);
        }
        return report.clean();
    }

    // ---- tensors and axes ----

    /** Rank and axis syntax of every tensor; true when every axis parsed. */
    private boolean checkTensorShapes(List<TensorModel> tensors) {
        boolean parsed = true;
        int index = 0;
        for (TensorModel t : tensors) {
            index++;
            declaration.checkName(t, index);
            declaration.checkRank(t.axes().size(), t.describe(), t.axesWhere());
            parsed &= checkAxes(t.axes(), t.describe());
        }
        return parsed;
    }

    private boolean checkAxes(List<Located<String>> axes, String owner) {
        boolean parsed = true;
        for (Located<String> a : axes) {
            Axis.Parsed p = Axis.parse(a.value());
            if (p instanceof Axis.Unknown u) {
                String in = u.symbol().equals(a.value()) ? "" : " (in \"" + a.value() + "\")";
                report.error(a.where(), "unknown axis symbol \"" + u.symbol() + "\"" + in + " in " + owner
                        + "; expected one of " + AxisSymbol.DECODER.knownList() + ", or \"" + Axis.TOTAL_SEQUENCE
                        + "\"");
                parsed = false;
            } else if (p instanceof Axis.Malformed) {
                report.error(a.where(), "malformed axis \"" + a.value() + "\" in " + owner + "; expected one axis"
                        + " symbol or the sum of two written \"a + b\", e.g. \"" + Axis.TOTAL_SEQUENCE + "\"");
                parsed = false;
            }
        }
        return parsed;
    }

    /** The past/present cache: name patterns, element type and past layout; true when every axis parsed. */
    private boolean checkCache(CacheModel cache) {
        checkPattern("past", cache.past());
        checkPattern("present", cache.present());
        if (cache.past().value().equals(cache.present().value())) {
            report.error(cache.present().where(), "the present cache name pattern equals the past pattern \""
                    + cache.past().value() + "\"; expected distinct patterns, e.g. \"past_key_values.{layer}.{kind}\""
                    + " and \"present.{layer}.{kind}\"");
        }
        DType t = cache.type().value();
        if (t != DType.FLOAT && t != DType.FLOAT16) {
            report.error(cache.type().where(), "cache type " + t + " is not a floating type; expected FLOAT or"
                    + " FLOAT16");
        }
        String owner = "the cache layout";
        declaration.checkRank(cache.axes().size(), owner, cache.axesWhere());
        if (!checkAxes(cache.axes(), owner)) {
            return false;
        }
        List<Axis> axes = cache.axes().stream().map(a -> Axis.of(a.value())).toList();
        if (axes.stream().noneMatch(a -> a.is(AxisSymbol.PAST_SEQUENCE_LENGTH))) {
            report.error(cache.axesWhere(), "the cache layout " + texts(cache.axes()) + " has no past_sequence_length"
                    + " axis; expected the axis the cache grows along, e.g. [batch_size, num_key_value_heads,"
                    + " past_sequence_length, head_dim]");
        }
        if (axes.stream().noneMatch(a -> a.is(AxisSymbol.BATCH_SIZE))) {
            report.error(cache.axesWhere(), "the cache layout " + texts(cache.axes()) + " has no batch_size axis;"
                    + " expected one, e.g. [batch_size, num_key_value_heads, past_sequence_length, head_dim]");
        }
        for (Located<String> a : cache.axes()) {
            if (Axis.of(a.value()).mentions(AxisSymbol.SEQUENCE_LENGTH)) {
                report.error(a.where(), "cache axis \"" + a.value() + "\" uses sequence_length; expected the past"
                        + " layout to grow along past_sequence_length alone (the present tensors get \""
                        + Axis.TOTAL_SEQUENCE + "\" in its place)");
            }
        }
        return true;
    }

    private void checkPattern(String which, Located<String> pattern) {
        String p = pattern.value();
        if (!p.contains(CacheModel.LAYER)) {
            report.error(pattern.where(), "the " + which + " cache name pattern \"" + p + "\" has no {layer}; expected"
                    + " the layer index placeholder, e.g. \"" + example(which) + "\"");
        }
        if (!p.contains(CacheModel.KIND)) {
            report.error(pattern.where(), "the " + which + " cache name pattern \"" + p + "\" has no {kind}; expected"
                    + " the key/value placeholder, e.g. \"" + example(which) + "\"");
        }
    }

    private static String example(String which) {
        return which.equals("past") ? "past_key_values.{layer}.{kind}" : "present.{layer}.{kind}";
    }

    /** Every input, output and expanded cache tensor needs its own name. */
    private void checkNames(OnnxConfigModel model) {
        Map<String, TensorModel> byName = new HashMap<>();
        List<TensorModel> all = new ArrayList<>(model.inputs());
        all.addAll(model.outputs());
        CacheModel cache = model.cache();
        for (TensorModel t : all) {
            String name = t.name().value();
            if (name.isEmpty()) {
                continue;
            }
            TensorModel first = byName.putIfAbsent(name, t);
            if (first != null) {
                report.error(t.name().where(), "duplicate tensor name \"" + name + "\": " + t.role() + " \"" + name
                        + "\" is already declared as " + first.describe() + "; expected every input, output and"
                        + " cache tensor to have its own name");
            }
            for (Located<String> pattern : List.of(cache.past(), cache.present())) {
                if (expands(pattern.value()) && cachePattern(pattern.value()).matcher(name).matches()) {
                    report.error(t.name().where(), "duplicate tensor name \"" + name + "\": " + t.role() + " \"" + name
                            + "\" is also a cache tensor of pattern \"" + pattern.value() + "\"; expected every input,"
                            + " output and cache tensor to have its own name");
                }
            }
        }
    }

    private static boolean expands(String pattern) {
        return pattern.contains(CacheModel.LAYER) && pattern.contains(CacheModel.KIND);
    }

    /** The names a cache pattern expands to: any layer index, either kind. */
    private static Pattern cachePattern(String pattern) {
        StringBuilder regex = new StringBuilder();
        for (String part : pattern.split("(?=\\{layer\\}|\\{kind\\})|(?<=\\{layer\\}|\\{kind\\})")) {
            regex.append(switch (part) {
                case CacheModel.LAYER -> "[0-9]+";
                case CacheModel.KIND -> "(?:key|value)";
                default -> Pattern.quote(part);
            });
        }
        return Pattern.compile(regex.toString());
    }

    private void checkRequiredTensors(OnnxConfigModel model) {
        if (find(model.inputs(), OnnxConfigModel.INPUT_IDS).isEmpty()) {
            report.error(model.inputsWhere(), "no input named \"input_ids\"; expected every decoder to take input_ids"
                    + " [batch_size, sequence_length]");
        }
        if (find(model.outputs(), OnnxConfigModel.LOGITS).isEmpty()) {
            report.error(model.outputsWhere(), "no output named \"logits\"; expected every decoder to produce logits"
                    + " [batch_size, sequence_length, vocab_size]");
        }
    }

    /** input_ids, attention_mask and position_ids are integer [batch, length] tensors the runtime fills itself. */
    private void checkIdInputs(OnnxConfigModel model) {
        for (TensorModel t : model.inputs()) {
            if (!ID_INPUTS.contains(t.name().value())) {
                continue;
            }
            DType d = t.type().value();
            if (d != DType.INT64 && d != DType.INT32) {
                report.error(t.type().where(), t.describe() + " has type " + d + "; expected INT64 or INT32");
            }
            if (!t.axes().isEmpty() && t.axes().size() != 2) {
                String expected = t.name().value().equals(OnnxConfigModel.ATTENTION_MASK) ? Axis.TOTAL_SEQUENCE
                        : "sequence_length";
                report.error(t.axesWhere(), t.describe() + " has " + t.axes().size()
                        + (t.axes().size() == 1 ? " axis" : " axes") + "; expected 2, [batch_size, " + expected + "]");
            }
        }
    }

    private void checkAttentionMask(OnnxConfigModel model) {
        if (!model.supports(Task.TEXT_GENERATION_WITH_PAST)) {
            return;
        }
        Optional<TensorModel> mask = find(model.inputs(), OnnxConfigModel.ATTENTION_MASK);
        if (mask.isEmpty() || mask.get().axes().isEmpty()) {
            return;
        }
        Located<String> last = mask.get().axes().get(mask.get().axes().size() - 1);
        // an unparsable last axis already has its own error
        if (Axis.parse(last.value()) instanceof Axis.Valid && !last.value().equals(Axis.TOTAL_SEQUENCE)) {
            report.error(last.where(), "the last axis of input \"attention_mask\" is \"" + last.value() + "\";"
                    + " expected \"" + Axis.TOTAL_SEQUENCE + "\" because tasks include TEXT_GENERATION_WITH_PAST"
                    + " (the mask covers the past and the new tokens)");
        }
    }

    /**
     * A dynamic size (batch, sequence, past) can only be known at run time from some input's shape, so an output
     * axis using it needs an input that has it; config sizes are always known.
     */
    private void checkOutputAxesAreDefined(OnnxConfigModel model) {
        boolean withPast = model.supports(Task.TEXT_GENERATION_WITH_PAST);
        Set<AxisSymbol> defined = EnumSet.noneOf(AxisSymbol.class);
        Set<String> definedSums = new HashSet<>();
        List<String> inputAxes = new ArrayList<>();
        model.inputs().forEach(t -> t.axisTexts().forEach(inputAxes::add));
        if (withPast) {
            model.cache().axes().forEach(a -> inputAxes.add(a.value()));
        }
        for (String text : inputAxes) {
            Axis a = Axis.of(text);
            if (a.isSum()) {
                definedSums.add(text);
            } else {
                defined.add(a.terms().get(0));
            }
        }
        for (TensorModel out : model.outputs()) {
            for (Located<String> a : out.axes()) {
                checkDefined(a, out.describe(), defined, definedSums);
            }
        }
        if (withPast) {
            for (Located<String> a : model.cache().axes()) {
                String present = a.value().equals(AxisSymbol.PAST_SEQUENCE_LENGTH.symbol()) ? Axis.TOTAL_SEQUENCE
                        : a.value();
                checkDefined(new Located<>(present, a.where()), "the present cache layout", defined, definedSums);
            }
        }
    }

    private void checkDefined(Located<String> text, String owner, Set<AxisSymbol> defined, Set<String> sums) {
        if (sums.contains(text.value())) {
            return;
        }
        for (AxisSymbol s : Axis.of(text.value()).terms()) {
            if (s.dynamic() && !defined.contains(s)) {
                report.error(text.where(), owner + " uses axis \"" + text.value() + "\", but no input defines "
                        + s.symbol() + "; expected batch_size, sequence_length and past_sequence_length to be an"
                        + " axis of some input (sizes from config.json are always defined)");
            }
        }
    }

    // ---- helpers ----

    private static Optional<TensorModel> find(List<TensorModel> tensors, String name) {
        return tensors.stream().filter(t -> t.name().value().equals(name)).findFirst();
    }

    private static String texts(List<Located<String>> axes) {
        return axes.stream().map(Located::value).toList().toString();
    }
}
