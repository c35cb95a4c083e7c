package dev.stepwise.processor;

import dev.stepwise.annotations.Task;
import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.List;
import java.util.Optional;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.TypeElement;

/**
 * An {@code @EncoderConfig} as plain values, each kept with its place in the source. The encoder graph is a model of
 * its own ({@link EncoderGraphModel}) so that an encoder-decoder declaration can hold one the same way.
 */
record EncoderConfigModel(TypeElement type, AnnotationMirror mirror, Located<String> modelType, Where tasksWhere,
                          List<Located<Task>> tasks, Located<Integer> opset, Located<Double> atol,
                          ConfigKeysModel config, EncoderGraphModel encoder) implements Declaration {

    static final String TOKEN_TYPE_IDS = "token_type_ids";

    /** The {@code @EncoderGraph}: its inputs and one output per task. */
    record EncoderGraphModel(Where where, Where inputsWhere, List<TensorModel> inputs, Where outputsWhere,
                             List<TaskOutputModel> outputs) {
        Optional<TensorModel> input(String name) {
            return inputs.stream().filter(t -> t.name().value().equals(name)).findFirst();
        }

        Optional<TaskOutputModel> output(Task task) {
            return outputs.stream().filter(o -> o.task().value() == task).findFirst();
        }
    }

    /** One {@code @TaskOutput}. */
    record TaskOutputModel(Where where, Located<Task> task, TensorModel tensor) {
    }
}
