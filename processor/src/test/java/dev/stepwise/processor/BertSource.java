package dev.stepwise.processor;

import com.google.testing.compile.JavaFileObjects;
import javax.tools.JavaFileObject;

/**
 * A valid encoder-only declaration (BERT's three tasks), one annotation value per line so a test can edit one value
 * and expect the error on that value's line. Edits replace text that must occur exactly once.
 */
final class BertSource {
    static final String TEXT = """
            package test;

            import dev.stepwise.annotations.DType;
            import dev.stepwise.annotations.EncoderConfig;
            import dev.stepwise.annotations.EncoderGraph;
            import dev.stepwise.annotations.Task;
            import dev.stepwise.annotations.TaskOutput;
            import dev.stepwise.annotations.TensorSpec;
            import dev.stepwise.runtime.model.EncoderInputs;
            import dev.stepwise.runtime.model.EncoderModel;
            import dev.stepwise.runtime.model.ModelConfig;
            import dev.stepwise.runtime.model.WeightSpec;
            import dev.stepwise.runtime.ops.Ops;
            import dev.stepwise.runtime.ops.Tensor;
            import java.util.List;

            @EncoderConfig(
                modelType = "bert",
                tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION, Task.FILL_MASK},
                opset = 14,
                atol = 1e-4,
                encoder = @EncoderGraph(
                    inputs = {
                        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                        @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                        @TensorSpec(name = "token_type_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
                    outputs = {
                        @TaskOutput(
                            task = Task.FEATURE_EXTRACTION,
                            tensor = @TensorSpec(name = "last_hidden_state", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "hidden_size"})),
                        @TaskOutput(
                            task = Task.TEXT_CLASSIFICATION,
                            tensor = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "num_labels"})),
                        @TaskOutput(
                            task = Task.FILL_MASK,
                            tensor = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))}))
            public final class Bert implements EncoderModel {
                @Override
                public Tensor forward(Ops ops, ModelConfig config, EncoderInputs inputs, Task task) {
                    return inputs.inputIds();
                }

                @Override
                public List<WeightSpec> expectedWeights(ModelConfig config, Task task) {
                    return List.of();
                }
            }
            """;

    private BertSource() {
    }

    static JavaFileObject valid() {
        return JavaFileObjects.forSourceString("test.Bert", TEXT);
    }
}
