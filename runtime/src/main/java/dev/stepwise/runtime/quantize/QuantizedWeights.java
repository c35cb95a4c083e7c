package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The quantized weights of one output folder, all in its one shared weights file: a weight that several models read
 * (the decoder and its loop graph, every step graph of an unrolled folder) is quantized and stored once, keyed by
 * where its float bytes are stored and the layout it is quantized to.
 */
final class QuantizedWeights {
    private final SharedExternalData file;
    private final Map<String, Object> done = new HashMap<>();

    QuantizedWeights(SharedExternalData file) {
        this.file = file;
    }

    /** The shared weights file quantized tensors are stored in. */
    SharedExternalData file() {
        return file;
    }

    /**
     * {@code w} of {@code model} quantized to {@code layout}: {@code quantize} reads its float bytes and stores the
     * result the first time; later calls for the same stored bytes and layout (from any model) return that result.
     */
    @SuppressWarnings("unchecked")
    <T> T once(OnnxModelReader model, TensorProto w, String layout, Function<InitializerBytes, T> quantize) {
        InitializerBytes bytes = InitializerBytes.of(model, w);
        return (T) done.computeIfAbsent(bytes.key() + ":" + layout, k -> quantize.apply(bytes));
    }
}
