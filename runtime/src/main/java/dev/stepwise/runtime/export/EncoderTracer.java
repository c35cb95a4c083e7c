package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.model.EncoderArchitecture;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.EncoderSpec;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.ops.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * Traces an encoder's forward into optimum's encoder-only graph: the declared id inputs {@code [batch_size,
 * sequence_length]} (symbolic, so one graph serves any batch and length) and the task's one output.
 */
public final class EncoderTracer {
    private EncoderTracer() {
    }

    public static ModelProto trace(EncoderArchitecture architecture, ModelConfig config, WeightSource weights,
                                   Task task, int opset, WeightSink sink, DType floatType, Optimize optimize) {
        EncoderSpec spec = architecture.spec();
        TensorDecl output = spec.output(task);
        GraphBuilder graph = new GraphBuilder(spec.modelType() + "-" + task.cliName(), opset);
        TracingOps ops = new TracingOps(graph, weights, sink, floatType, optimize);
        AxisSizes sizes = AxisSizes.dynamic();
        Map<String, Tensor> inputs = new HashMap<>();
        for (TensorDecl in : spec.inputs()) {
            Tensor t = ops.input(in.name(), in.type(), sizes.resolveAll(in.axes(), config));
            inputs.put(in.name(), in.type() != DType.INT64 ? ops.cast(t, DType.INT64) : t);
        }
        Tensor result = architecture.newModel().forward(ops, config, inputs(inputs), task);
        ops.output(output.name(), result, DecoderTracer.inGraph(output.type(), floatType),
                sizes.resolveAll(output.axes(), config));
        graph.putMetadata("model_type", spec.modelType());
        graph.putMetadata("task", task.cliName());
        return graph.build(false);
    }

    /** The forward's view of the graph inputs, by their optimum names; undeclared ones are null. */
    static EncoderInputs inputs(Map<String, Tensor> byName) {
        return new EncoderInputs(byName.get("input_ids"), byName.get("attention_mask"), byName.get("token_type_ids"),
                byName.get("position_ids"));
    }
}
