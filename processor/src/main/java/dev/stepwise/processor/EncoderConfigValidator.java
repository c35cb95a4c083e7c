package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.EncoderConfigModel.EncoderGraphModel;
import dev.stepwise.processor.EncoderConfigModel.TaskOutputModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.lang.model.util.Types;

/**
 * Checks an {@link EncoderConfigModel}, reporting every problem on the offending value: the class, the tasks (encoder
 * tasks only, each with exactly one output), the inputs (integer {@code [batch_size, sequence_length]} ids, an
 * attention mask always) and each task's output layout. An encoder has no KV cache, so a past axis or a cache
 * tensor name is refused. The graph checks are their own method so an encoder-decoder validator can run them on its
 * encoder.
 */
final class EncoderConfigValidator {
    /** Names optimum gives cache tensors; an encoder graph has none. */
    private static final Pattern CACHE_NAME = Pattern.compile("(past_key_values|present)([._].*)?");
    private static final Set<String> ID_INPUTS = Set.of(OnnxConfigModel.INPUT_IDS, OnnxConfigModel.ATTENTION_MASK,
            EncoderConfigModel.TOKEN_TYPE_IDS, OnnxConfigModel.POSITION_IDS);
    private static final String SEQUENCE = "sequence_length";
    /** The encoder's sequence axis in an encoder-decoder model, optimum's name. */
    static final String ENCODER_SEQUENCE = "encoder_sequence_length";
    private static final List<String> IDS_AXES = List.of("batch_size", "sequence_length");
    private static final Map<Task, List<String>> OUTPUT_AXES = Map.of(
            Task.FEATURE_EXTRACTION, List.of("batch_size", "sequence_length", "hidden_size"),
            Task.TEXT_CLASSIFICATION, List.of("batch_size", "num_labels"),
            Task.FILL_MASK, List.of("batch_size", "sequence_length", "vocab_size"));

    private final Diagnostics report;
    private final DeclarationChecks declaration;

    /** The encoder's sequence axis: {@code sequence_length}; {@code encoder_sequence_length} in an encoder-decoder. */
    private String sequence = SEQUENCE;

    EncoderConfigValidator(Diagnostics report, Types types) {
        this.report = report;
        this.declaration = DeclarationChecks.encoder(report, types);
    }

    boolean validate(EncoderConfigModel model) {
        declaration.checkDeclaration(model, model.tasksWhere(), model.tasks());
        checkGraph(model.encoder(), model.tasks().stream().map(Located::value).toList(), SEQUENCE);
        return report.clean();
    }

    /**
     * The checks an encoder-decoder declaration shares with an encoder-only one: model type, opset, atol, config
     * keys and the encoder graph, whose sequence axis is {@code encoder_sequence_length} and whose only output is
     * FEATURE_EXTRACTION's. Reports through the same {@link Diagnostics} as the caller, which has started on the class.
     */
    void checkSeq2SeqEncoder(Seq2SeqConfigModel model) {
        declaration.checkValues(model);
        checkGraph(model.encoder(), List.of(Task.FEATURE_EXTRACTION), ENCODER_SEQUENCE);
    }

    // ---- the encoder graph ----

    /** Every check of an {@code @EncoderGraph} serving {@code tasks}, its sequence axis named {@code sequenceAxis}. */
    private void checkGraph(EncoderGraphModel graph, List<Task> tasks, String sequenceAxis) {
        sequence = sequenceAxis;
        List<TensorModel> all = new ArrayList<>(graph.inputs());
        graph.outputs().forEach(o -> all.add(o.tensor()));
        int index = 0;
        for (TensorModel t : all) {
            index++;
            checkTensor(t, index);
        }
        checkNames(graph);
        checkInputs(graph);
        checkOutputs(graph, tasks);
    }

    private void checkTensor(TensorModel t, int index) {
        if (declaration.checkName(t, index) && CACHE_NAME.matcher(t.name().value()).matches()) {
            report.error(t.name().where(), t.describe() + " is a KV-cache tensor; expected none in an encoder, which"
                    + " attends over its whole input at once (a cache belongs to a decoder)");
        }
        declaration.checkRank(t.axes().size(), t.describe(), t.axesWhere());
        for (Located<String> a : t.axes()) {
            if (known(a.value())) {
                continue;
            }
            if (a.value().contains("past_sequence_length")) {
                report.error(a.where(), "axis \"" + a.value() + "\" in " + t.describe() + " has a past; expected"
                        + " none in an encoder, which has no KV cache (use sequence_length)");
            } else if (!sequence.equals(SEQUENCE) && a.value().equals(SEQUENCE)) {
                report.error(a.where(), "axis \"" + a.value() + "\" in encoder " + t.describe() + " is ambiguous in an"
                        + " encoder-decoder model; expected " + sequence
                        + " (the decoder's is decoder_sequence_length)");
            } else {
                report.error(a.where(), "unknown axis symbol \"" + a.value() + "\" in " + t.describe() + ";"
                        + " expected one of " + AxisSymbol.ENCODER.knownList().replace(SEQUENCE, sequence));
            }
        }
    }

    /** Inputs need their own names; outputs of different tasks may share one (logits), but not an input's. */
    private void checkNames(EncoderGraphModel graph) {
        Map<String, TensorModel> inputs = new HashMap<>();
        for (TensorModel t : graph.inputs()) {
            TensorModel first = inputs.putIfAbsent(t.name().value(), t);
            if (first != null && !t.name().value().isEmpty()) {
                report.error(t.name().where(), "duplicate tensor name \"" + t.name().value() + "\": input \""
                        + t.name().value() + "\" is already declared; expected every input to have its own name");
            }
        }
        for (TaskOutputModel o : graph.outputs()) {
            if (inputs.containsKey(o.tensor().name().value())) {
                report.error(o.tensor().name().where(), "duplicate tensor name \"" + o.tensor().name().value()
                        + "\": output of " + o.task().value() + " is also an input; expected outputs named apart"
                        + " from the inputs");
            }
        }
    }

    private void checkInputs(EncoderGraphModel graph) {
        if (graph.input(OnnxConfigModel.INPUT_IDS).isEmpty()) {
            report.error(graph.inputsWhere(), "no input named \"input_ids\"; expected every encoder to take input_ids"
                    + " [batch_size, " + sequence + "]");
        }
        if (graph.input(OnnxConfigModel.ATTENTION_MASK).isEmpty()) {
            report.error(graph.inputsWhere(), "no input named \"attention_mask\"; expected every encoder to take"
                    + " attention_mask [batch_size, " + sequence + "], since a padded batch needs it");
        }
        for (TensorModel t : graph.inputs()) {
            if (!ID_INPUTS.contains(t.name().value())) {
                report.error(t.name().where(), t.describe() + " is not an input the runtime can fill; expected"
                        + " input_ids, attention_mask, token_type_ids or position_ids");
                continue;
            }
            DType d = t.type().value();
            if (d != DType.INT64 && d != DType.INT32) {
                report.error(t.type().where(), t.describe() + " has type " + d + "; expected INT64 or INT32, since it"
                        + " holds token ids, types, positions or a 0/1 mask");
            }
            if (!t.axisTexts().toList().equals(bySequence(IDS_AXES)) && !t.axes().isEmpty()) {
                report.error(t.axesWhere(), t.describe() + " has axes " + t.axisTexts().toList()
                        + "; expected [batch_size, " + sequence + "]");
            }
        }
    }

    private void checkOutputs(EncoderGraphModel graph, List<Task> tasks) {
        Set<Task> declared = EnumSet.noneOf(Task.class);
        for (TaskOutputModel o : graph.outputs()) {
            Task task = o.task().value();
            TensorModel t = o.tensor();
            if (!tasks.contains(task)) {
                report.error(o.task().where(), "output \"" + t.name().value() + "\" is for task " + task + ", which"
                        + " tasks does not list; expected one output per listed task");
            }
            if (!declared.add(task)) {
                report.error(o.task().where(), "task " + task + " has more than one output; expected exactly one");
            }
            DType d = t.type().value();
            if (d != DType.FLOAT && d != DType.FLOAT16) {
                report.error(t.type().where(), t.describe() + " has type " + d + "; expected FLOAT or FLOAT16");
            }
            List<String> expected = OUTPUT_AXES.containsKey(task) ? bySequence(OUTPUT_AXES.get(task)) : null;
            List<String> axes = t.axisTexts().toList();
            if (expected == null || axes.isEmpty() || axes.equals(expected)) {
                continue;
            }
            String why = switch (task) {
                case TEXT_CLASSIFICATION -> axes.contains("num_labels") ? "" : " has no label axis;";
                case FILL_MASK -> axes.contains("vocab_size") ? "" : " has no vocab axis;";
                default -> "";
            };
            report.error(t.axesWhere(), t.describe() + " of " + task + " has axes " + axes + ";" + why + " expected "
                    + expected);
        }
        for (Task task : tasks) {
            if (task.isEncoderTask() && !declared.contains(task)) {
                report.error(graph.outputsWhere(), "task " + task + " has no output; expected a @TaskOutput(task = "
                        + task + ", tensor = ...) such as " + example(task));
            }
        }
    }

    private boolean known(String axis) {
        return axis.equals(sequence) || !axis.equals(SEQUENCE) && AxisSymbol.ENCODER.of(axis).isPresent();
    }

    /** {@code axes} with this graph's sequence axis in place of {@code sequence_length}. */
    private List<String> bySequence(List<String> axes) {
        return axes.stream().map(a -> a.equals(SEQUENCE) ? sequence : a).toList();
    }

    private static String example(Task task) {
        return switch (task) {
            case FEATURE_EXTRACTION -> "last_hidden_state [batch_size, sequence_length, hidden_size]";
            case TEXT_CLASSIFICATION -> "logits [batch_size, num_labels]";
            default -> "logits [batch_size, sequence_length, vocab_size]";
        };
    }
}
