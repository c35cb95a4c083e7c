package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.passes.ShapeInference;
import dev.stepwise.runtime.onnx.passes.StaticGraphOptimizer;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.nio.file.Path;

/**
 * Keeps a static graph static through quantization: a model whose every input, output and intermediate value had a
 * fixed-dim value_info (a step graph of an unrolled folder) gets one again for every tensor the rewriter made
 * (QuantizeLinear / DequantizeLinear outputs, DynamicQuantizeLinear's three, MatMulInteger, Cast and Mul, the
 * dequantized embedding rows), by the shape inference the unroller itself uses over the graph's known static shapes.
 * Any other model is left as it is: its dims were never fixed.
 */
final class StaticValueInfo {
    private StaticValueInfo() {
    }

    /** Whether {@code model} is a static graph (no shape-only op, every value with fixed dims). */
    static boolean isStatic(ModelProto model) {
        return model.getGraph().getInputCount() > 0 && StaticGraphOptimizer.staticProblems(model).isEmpty();
    }

    /**
     * {@code quantized} with a fixed-dim value_info for every value, when {@code source} was static; {@code dir}
     * resolves its external data (small shape-deciding constants are read).
     */
    static ModelProto complete(ModelProto source, ModelProto quantized, Path dir) {
        return isStatic(source) ? ShapeInference.annotate(quantized, dir) : quantized;
    }
}
