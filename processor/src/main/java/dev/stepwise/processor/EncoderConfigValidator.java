package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.EncoderConfigModel.EncoderGraphModel;
import dev.stepwise.processor.EncoderConfigModel.TaskOutputModel;
import dev.stepwise.processor.OnnxConfigModel.ConfigKey;
import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.annotation.processing.Messager;
import javax.lang.model.element.Element;
import javax.lang.model.element.TypeElement;
import javax.lang.model.util.Types;
import javax.tools.Diagnostic;

/**
 * Checks an {@link EncoderConfigModel}, reporting every problem on the offending value: the class, the tasks (encoder
 * tasks only, each with exactly one output), the inputs (integer {@code [batch_size, sequence_length]} ids, an
 * attention mask always) and each task's output layout. An encoder has no KV cache, so a past axis or a cache
 * tensor name is refused. The graph checks are their own method so an encoder-decoder validator can run them on its
 * encoder.
 */
final class EncoderConfigValidator {
    private static final Pattern MODEL_TYPE = Pattern.compile("[a-z0-9_\\-]+");
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
    private static final Map<String, String> REQUIRED_CONFIG_KEYS = Map.of(
            "numLayers", "the number of layers, e.g. \"num_hidden_layers\" or \"n_layers\"",
            "numAttentionHeads", "the number of attention heads, e.g. \"num_attention_heads\" or \"n_heads\"",
            "hiddenSize", "the hidden size, e.g. \"hidden_size\" or \"dim\"",
            "vocabSize", "the vocabulary size, e.g. \"vocab_size\"");

    private final Messager messager;
    private final AnnotatedClassCheck classCheck;
    private final Map<String, TypeElement> modelTypes = new HashMap<>();

    private TypeElement type;
    private int errors;
    /** The encoder's sequence axis: {@code sequence_length}, or {@code encoder_sequence_length} in an encoder-decoder. */
    private String sequence = SEQUENCE;

    EncoderConfigValidator(Messager messager, Types types) {
        this.messager = messager;
        this.classCheck = new AnnotatedClassCheck(types, "@EncoderConfig", RuntimeTypes.ENCODER_MODEL_NAME);
    }

    boolean validate(EncoderConfigModel model) {
        type = model.type();
        errors = 0;
        classCheck.check(type, this::error);
        checkModelType(model.modelType());
        checkTasks(model);
        checkOpsetAndAtol(model.opset(), model.atol());
        checkConfigKeys(model.config());
        checkGraph(model.encoder(), model.tasks().stream().map(Located::value).toList(), SEQUENCE);
        return errors == 0;
    }

    /**
     * The checks an encoder-decoder declaration shares with an encoder-only one, for the encoder half of
     * {@code type}'s {@code @Seq2SeqConfig}: model type, opset, atol, config keys and the encoder graph, whose
     * sequence axis is {@code encoder_sequence_length} and whose only output is FEATURE_EXTRACTION's.
     *
     * @return the number of errors reported
     */
    int validateSeq2SeqEncoder(TypeElement type, Located<String> modelType, Located<Integer> opset,
                               Located<Double> atol, ConfigKeysModel config, EncoderGraphModel encoder) {
        this.type = type;
        errors = 0;
        checkModelType(modelType);
        checkOpsetAndAtol(opset, atol);
        checkConfigKeys(config);
        checkGraph(encoder, List.of(Task.FEATURE_EXTRACTION), ENCODER_SEQUENCE);
        return errors;
    }

    private void checkConfigKeys(ConfigKeysModel config) {
        for (ConfigKey k : config.keys()) {
            String needs = REQUIRED_CONFIG_KEYS.get(k.member());
            if (needs != null && k.key().value().isEmpty()) {
                error(k.key().where(), "@ConfigKeys " + k.member() + " is empty; expected the config.json key that"
                        + " holds " + needs);
            }
        }
    }

    private void checkModelType(Located<String> modelType) {
        String v = modelType.value();
        if (v.isEmpty()) {
            error(modelType.where(), "modelType is empty; expected the model_type of config.json, e.g. \"bert\"");
        } else if (!MODEL_TYPE.matcher(v).matches()) {
            error(modelType.where(), "modelType \"" + v + "\" does not match [a-z0-9_\\-]+; expected a model_type"
                    + " of config.json, lower-case letters, digits, '_' and '-' only, e.g. \"distilbert\"");
        } else {
            TypeElement first = modelTypes.putIfAbsent(v, type);
            if (first != null && !first.equals(type)) {
                error(modelType.where(), "modelType \"" + v + "\" is already declared by " + first.getQualifiedName()
                        + "; expected one @EncoderConfig class per model_type");
            }
        }
    }

    private void checkTasks(EncoderConfigModel model) {
        if (model.tasks().isEmpty()) {
            error(model.tasksWhere(), "tasks is empty; expected at least one of FEATURE_EXTRACTION,"
                    + " TEXT_CLASSIFICATION, FILL_MASK");
        }
        Set<Task> seen = EnumSet.noneOf(Task.class);
        for (Located<Task> t : model.tasks()) {
            if (!t.value().isEncoderTask()) {
                error(t.where(), "task " + t.value() + " is not an encoder task; expected FEATURE_EXTRACTION,"
                        + " TEXT_CLASSIFICATION or FILL_MASK (a text-generation model is an @OnnxConfig class)");
            }
            if (!seen.add(t.value())) {
                error(t.where(), "task " + t.value() + " is listed more than once; expected each task at most once");
            }
        }
    }

    private void checkOpsetAndAtol(Located<Integer> opsetValue, Located<Double> atolValue) {
        int opset = opsetValue.value();
        if (opset < OnnxConfigValidator.MIN_OPSET || opset > OnnxConfigValidator.MAX_OPSET) {
            error(opsetValue.where(), "opset " + opset + " is outside the supported range; expected "
                    + OnnxConfigValidator.MIN_OPSET + ".." + OnnxConfigValidator.MAX_OPSET);
        }
        double atol = atolValue.value();
        if (!(atol > 0) || Double.isInfinite(atol)) {
            error(atolValue.where(), "atol " + atol + " is not a positive tolerance; expected a finite number > 0"
                    + " (the largest absolute difference allowed against the PyTorch reference), e.g. 1e-4");
        }
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
        String name = t.name().value();
        if (name.isEmpty()) {
            error(t.name().where(), t.role() + " #" + index + " has an empty name; expected a graph tensor name such"
                    + " as \"input_ids\"");
        } else if (CACHE_NAME.matcher(name).matches()) {
            error(t.name().where(), t.describe() + " is a KV-cache tensor; expected none in an encoder, which"
                    + " attends over its whole input at once (a cache belongs to a decoder)");
        }
        int rank = t.axes().size();
        if (rank == 0) {
            error(t.axesWhere(), t.describe() + " has no axes; expected 1 to " + OnnxConfigValidator.MAX_RANK
                    + " axes (rank-0 tensors are not supported)");
        } else if (rank > OnnxConfigValidator.MAX_RANK) {
            error(t.axesWhere(), t.describe() + " has " + rank + " axes; expected at most "
                    + OnnxConfigValidator.MAX_RANK + ", the highest rank the runtime supports");
        }
        for (Located<String> a : t.axes()) {
            if (known(a.value())) {
                continue;
            }
            if (a.value().contains("past_sequence_length")) {
                error(a.where(), "axis \"" + a.value() + "\" in " + t.describe() + " has a past; expected none in an"
                        + " encoder, which has no KV cache (use sequence_length)");
            } else if (!sequence.equals(SEQUENCE) && a.value().equals(SEQUENCE)) {
                error(a.where(), "axis \"" + a.value() + "\" in encoder " + t.describe() + " is ambiguous in an"
                        + " encoder-decoder model; expected " + sequence + " (the decoder's is decoder_sequence_length)");
            } else {
                error(a.where(), "unknown axis symbol \"" + a.value() + "\" in " + t.describe() + "; expected one of "
                        + EncoderAxis.knownList().replace(SEQUENCE, sequence));
            }
        }
    }

    /** Inputs need their own names; outputs of different tasks may share one (logits), but not an input's. */
    private void checkNames(EncoderGraphModel graph) {
        Map<String, TensorModel> inputs = new HashMap<>();
        for (TensorModel t : graph.inputs()) {
            TensorModel first = inputs.putIfAbsent(t.name().value(), t);
            if (first != null && !t.name().value().isEmpty()) {
                error(t.name().where(), "duplicate tensor name \"" + t.name().value() + "\": input \""
                        + t.name().value() + "\" is already declared; expected every input to have its own name");
            }
        }
        for (TaskOutputModel o : graph.outputs()) {
            if (inputs.containsKey(o.tensor().name().value())) {
                error(o.tensor().name().where(), "duplicate tensor name \"" + o.tensor().name().value()
                        + "\": output of " + o.task().value() + " is also an input; expected outputs named apart"
                        + " from the inputs");
            }
        }
    }

    private void checkInputs(EncoderGraphModel graph) {
        if (graph.input(OnnxConfigModel.INPUT_IDS).isEmpty()) {
            error(graph.inputsWhere(), "no input named \"input_ids\"; expected every encoder to take input_ids"
                    + " [batch_size, " + sequence + "]");
        }
        if (graph.input(OnnxConfigModel.ATTENTION_MASK).isEmpty()) {
            error(graph.inputsWhere(), "no input named \"attention_mask\"; expected every encoder to take"
                    + " attention_mask [batch_size, " + sequence + "], since a padded batch needs it");
        }
        for (TensorModel t : graph.inputs()) {
            if (!ID_INPUTS.contains(t.name().value())) {
                error(t.name().where(), t.describe() + " is not an input the runtime can fill; expected input_ids,"
                        + " attention_mask, token_type_ids or position_ids");
                continue;
            }
            DType d = t.type().value();
            if (d != DType.INT64 && d != DType.INT32) {
                error(t.type().where(), t.describe() + " has type " + d + "; expected INT64 or INT32, since it holds"
                        + " token ids, types, positions or a 0/1 mask");
            }
            if (!t.axisTexts().toList().equals(bySequence(IDS_AXES)) && !t.axes().isEmpty()) {
                error(t.axesWhere(), t.describe() + " has axes " + t.axisTexts().toList()
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
                error(o.task().where(), "output \"" + t.name().value() + "\" is for task " + task + ", which tasks"
                        + " does not list; expected one output per listed task");
            }
            if (!declared.add(task)) {
                error(o.task().where(), "task " + task + " has more than one output; expected exactly one");
            }
            DType d = t.type().value();
            if (d != DType.FLOAT && d != DType.FLOAT16) {
                error(t.type().where(), t.describe() + " has type " + d + "; expected FLOAT or FLOAT16");
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
            error(t.axesWhere(), t.describe() + " of " + task + " has axes " + axes + ";" + why + " expected "
                    + expected);
        }
        for (Task task : tasks) {
            if (task.isEncoderTask() && !declared.contains(task)) {
                error(graph.outputsWhere(), "task " + task + " has no output; expected a @TaskOutput(task = " + task
                        + ", tensor = ...) such as " + example(task));
            }
        }
    }

    private boolean known(String axis) {
        return axis.equals(sequence) || !axis.equals(SEQUENCE) && EncoderAxis.of(axis).isPresent();
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

    private void error(Where where, String message) {
        errors++;
        messager.printMessage(Diagnostic.Kind.ERROR, message, type, where.mirror(), where.value());
    }

    private void error(Element element, String message) {
        errors++;
        messager.printMessage(Diagnostic.Kind.ERROR, message, element);
    }
}
