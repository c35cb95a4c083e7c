package dev.stepwise.processor;

import com.squareup.javapoet.ClassName;
import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.ConfigKey;
import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import javax.lang.model.element.TypeElement;
import javax.lang.model.util.Types;

/**
 * The checks of what every architecture annotation declares alike: its class (through {@link AnnotatedClassCheck}),
 * model type (well-formed and claimed by one class), tasks, opset, tolerance, config keys, and each tensor's name and
 * rank. One instance per kind of declaration, whose messages give that kind's examples; it remembers the model types
 * its kind has seen across rounds.
 */
final class DeclarationChecks {
    static final int MIN_OPSET = 13;
    static final int MAX_OPSET = 22;
    /** The highest rank the runtime's tensors support. */
    static final int MAX_RANK = 8;

    private static final Pattern MODEL_TYPE = Pattern.compile("[a-z0-9_\\-]+");

    /**
     * How one kind's messages read: its annotation, example model types, where each required config key is usually
     * found (layers, heads, hidden size), the tasks it may list and why another is refused.
     */
    private record Wording(String annotation, String modelTypeExample, String spelledModelTypeExample,
                           Map<String, String> requiredConfigKeys, String tasks, Predicate<Task> ownTask,
                           String notOwnTask) {
    }

    private final Diagnostics report;
    private final AnnotatedClassCheck classCheck;
    private final Wording wording;
    /** modelType → the class that declared it first, across all rounds, to catch two classes claiming one type. */
    private final Map<String, TypeElement> modelTypes = new HashMap<>();

    /** {@code modelInterface} is what the annotated class must implement. */
    private DeclarationChecks(Diagnostics report, Types types, ClassName modelInterface, Wording wording) {
        this.report = report;
        this.classCheck = new AnnotatedClassCheck(types, wording.annotation(), modelInterface.canonicalName());
        this.wording = wording;
    }

    /** For {@code @OnnxConfig} decoders, with GPT-2's names as examples. */
    static DeclarationChecks decoder(Diagnostics report, Types types) {
        return new DeclarationChecks(report, types, RuntimeTypes.CAUSAL_LM, new Wording("@OnnxConfig", "gpt2",
                "gpt_neox", requiredConfigKeys("n_layer", "n_head", "n_embd"),
                "TEXT_GENERATION, TEXT_GENERATION_WITH_PAST", task -> true, ""));
    }

    /** For {@code @EncoderConfig} (and the encoder of a {@code @Seq2SeqConfig}), with DistilBERT's names. */
    static DeclarationChecks encoder(Diagnostics report, Types types) {
        return new DeclarationChecks(report, types, RuntimeTypes.ENCODER_MODEL, new Wording("@EncoderConfig", "bert",
                "distilbert", requiredConfigKeys("n_layers", "n_heads", "dim"),
                "FEATURE_EXTRACTION, TEXT_CLASSIFICATION, FILL_MASK", Task::isEncoderTask, " is not an encoder task;"
                + " expected FEATURE_EXTRACTION, TEXT_CLASSIFICATION or FILL_MASK (a text-generation model is an"
                + " @OnnxConfig class)"));
    }

    /** What each required {@code @ConfigKeys} member holds, with the common key and this kind's other spelling. */
    private static Map<String, String> requiredConfigKeys(String layers, String heads, String hidden) {
        return Map.of(
                "numLayers", "the number of layers, e.g. \"num_hidden_layers\" or \"" + layers + "\"",
                "numAttentionHeads", "the number of attention heads, e.g. \"num_attention_heads\" or \"" + heads
                        + "\"",
                "hiddenSize", "the hidden size, e.g. \"hidden_size\" or \"" + hidden + "\"",
                "vocabSize", "the vocabulary size, e.g. \"vocab_size\"");
    }

    /**
     * Starts reporting on {@code model}'s class and checks it, its model type, {@code tasks} (placed at
     * {@code tasksWhere}), opset, tolerance and config keys.
     */
    void checkDeclaration(Declaration model, Where tasksWhere, List<Located<Task>> tasks) {
        report.start(model.type());
        classCheck.check(model.type(), report::error);
        checkModelType(model.modelType());
        checkTasks(tasksWhere, tasks);
        checkOpsetAndAtol(model.opset(), model.atol());
        checkConfigKeys(model.config());
    }

    /**
     * The model type, opset, tolerance and config keys of {@code model}, without its class or tasks, on the class
     * reporting has started on: for a kind that reuses this one's checks (an encoder-decoder, on its encoder half).
     */
    void checkValues(Declaration model) {
        checkModelType(model.modelType());
        checkOpsetAndAtol(model.opset(), model.atol());
        checkConfigKeys(model.config());
    }

    private void checkModelType(Located<String> modelType) {
        String v = modelType.value();
        if (v.isEmpty()) {
            report.error(modelType.where(), "modelType is empty; expected the model_type of config.json, e.g. \""
                    + wording.modelTypeExample() + "\"");
        } else if (!MODEL_TYPE.matcher(v).matches()) {
            report.error(modelType.where(), "modelType \"" + v + "\" does not match [a-z0-9_\\-]+; expected a"
                    + " model_type of config.json, lower-case letters, digits, '_' and '-' only, e.g. \""
                    + wording.spelledModelTypeExample() + "\"");
        } else {
            TypeElement type = report.type();
            TypeElement first = modelTypes.putIfAbsent(v, type);
            if (first != null && !first.equals(type)) {
                report.error(modelType.where(), "modelType \"" + v + "\" is already declared by "
                        + first.getQualifiedName() + "; expected one " + wording.annotation()
                        + " class per model_type");
            }
        }
    }

    private void checkTasks(Where tasksWhere, List<Located<Task>> tasks) {
        if (tasks.isEmpty()) {
            report.error(tasksWhere, "tasks is empty; expected at least one of " + wording.tasks());
        }
        Set<Task> seen = EnumSet.noneOf(Task.class);
        for (Located<Task> t : tasks) {
            if (!wording.ownTask().test(t.value())) {
                report.error(t.where(), "task " + t.value() + wording.notOwnTask());
            }
            if (!seen.add(t.value())) {
                report.error(t.where(), "task " + t.value() + " is listed more than once; expected each task at most"
                        + " once");
            }
        }
    }

    private void checkOpsetAndAtol(Located<Integer> opsetValue, Located<Double> atolValue) {
        int opset = opsetValue.value();
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            report.error(opsetValue.where(), "opset " + opset + " is outside the supported range; expected "
                    + MIN_OPSET + ".." + MAX_OPSET);
        }
        double atol = atolValue.value();
        if (!(atol > 0) || Double.isInfinite(atol)) {
            report.error(atolValue.where(), "atol " + atol + " is not a positive tolerance; expected a finite number"
                    + " > 0 (the largest absolute difference allowed against the PyTorch reference), e.g. 1e-4");
        }
    }

    private void checkConfigKeys(ConfigKeysModel config) {
        for (ConfigKey k : config.keys()) {
            String needs = wording.requiredConfigKeys().get(k.member());
            if (needs != null && k.key().value().isEmpty()) {
                report.error(k.key().where(), "@ConfigKeys " + k.member() + " is empty; expected the config.json key"
                        + " that holds " + needs);
            }
        }
    }

    /** A tensor must be named; {@code index} counts from 1 among its role's tensors. True when it has a name. */
    boolean checkName(TensorModel t, int index) {
        if (t.name().value().isEmpty()) {
            report.error(t.name().where(), t.role() + " #" + index + " has an empty name; expected a graph tensor"
                    + " name such as \"input_ids\"");
            return false;
        }
        return true;
    }

    void checkRank(int rank, String owner, Where where) {
        if (rank == 0) {
            report.error(where, owner + " has no axes; expected 1 to " + MAX_RANK + " axes (rank-0 tensors are not"
                    + " supported)");
        } else if (rank > MAX_RANK) {
            report.error(where, owner + " has " + rank + " axes; expected at most " + MAX_RANK
                    + ", the highest rank the runtime supports");
        }
    }
}
