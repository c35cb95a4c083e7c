package dev.stepwise.processor;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import java.util.List;
import java.util.stream.Stream;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.TypeElement;

/**
 * An {@code @OnnxConfig} as plain values, each kept with its place in the source. The validator checks it; the
 * generators only ever see a model the validator accepted, so they can take every value at its word.
 */
record OnnxConfigModel(TypeElement type, AnnotationMirror mirror, Located<String> modelType,
                       Where tasksWhere, List<Located<Task>> tasks, Located<Integer> opset, Located<Double> atol,
                       ConfigKeysModel config, Where inputsWhere, List<TensorModel> inputs, CacheModel cache,
                       Where outputsWhere, List<TensorModel> outputs) implements Declaration {

    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String POSITION_IDS = "position_ids";
    static final String LOGITS = "logits";

    boolean supports(Task task) {
        return tasks.stream().anyMatch(t -> t.value() == task);
    }

    /** The normalized config keys, in the order of the runtime's {@code ConfigKeyMap} constructor. */
    record ConfigKeysModel(Where where, List<ConfigKey> keys) {
    }

    /** One {@code @ConfigKeys} member: its member name and the config.json key it names. */
    record ConfigKey(String member, Located<String> key) {
    }

    /** One {@code @TensorSpec}; {@code role} is "input" or "output" for messages. */
    record TensorModel(String role, Where where, Located<String> name, Located<DType> type, Where axesWhere,
                       List<Located<String>> axes) {
        String describe() {
            return role + " \"" + name.value() + "\"";
        }

        Stream<String> axisTexts() {
            return axes.stream().map(Located::value);
        }
    }

    /** The {@code @KeyValueCache}: name patterns and the layout of a past tensor. */
    record CacheModel(Where where, Located<String> past, Located<String> present, Located<DType> type,
                      Where axesWhere, List<Located<String>> axes) {
        static final String LAYER = "{layer}";
        static final String KIND = "{kind}";
        static final List<String> KINDS = List.of("key", "value");
    }
}
