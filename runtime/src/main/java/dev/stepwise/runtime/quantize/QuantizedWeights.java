package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.HashMap;
import java.util.Map;

/**
 * The quantized weights of one output folder, all in its one shared weights file: a weight that several models read
 * (the decoder and its loop graph, every step graph of an unrolled folder) is quantized and stored once, keyed by
 * where its float bytes are stored.
 */
final class QuantizedWeights {
    private final SharedExternalData file;
    private final Int8Scheme scheme;
    private final WeightQuantizer quantizer;
    /** Embedding tables: signed symmetric, one scale per hidden column, whatever the MatMul scheme. */
    private final WeightQuantizer rows = new WeightQuantizer(new Int8Scheme(true, true, false));
    private final Map<String, WeightQuantizer.Quantized> done = new HashMap<>();
    private long floatBytes;
    private long quantizedBytes;

    QuantizedWeights(SharedExternalData file, Int8Scheme scheme) {
        this.file = file;
        this.scheme = scheme;
        this.quantizer = new WeightQuantizer(scheme);
    }

    Int8Scheme scheme() {
        return scheme;
    }

    /** {@code w} of {@code model} quantized as a [K, N] MatMulInteger B named {@code name}. */
    WeightQuantizer.Quantized quantize(OnnxModelReader model, TensorProto w, boolean transposed, String name) {
        return quantize(model, w, transposed ? "T" : "", name);
    }

    /** An embedding table {@code w} [V, H] as int8, one scale per hidden column, for a quantized Gather. */
    WeightQuantizer.Quantized quantizeRows(OnnxModelReader model, TensorProto w, String name) {
        return quantize(model, w, "rows", name);
    }

    /** A transB Gemm's {@code w} [N, K] kept in its layout, one scale per row (output channel): a QDQ weight. */
    WeightQuantizer.Quantized quantizeOutputRows(OnnxModelReader model, TensorProto w, String name) {
        return quantize(model, w, "output-rows", name);
    }

    private WeightQuantizer.Quantized quantize(OnnxModelReader model, TensorProto w, String layout, String name) {
        InitializerBytes bytes = InitializerBytes.of(model, w);
        String key = bytes.key() + ":" + layout;
        WeightQuantizer.Quantized q = done.get(key);
        if (q == null) {
            q = layout.equals("rows") ? rows.quantize(name, bytes, w.getDims(0), w.getDims(1), false, false, file)
                    : layout.equals("output-rows")
                    ? quantizer.quantize(name, bytes, w.getDims(0), w.getDims(1), false, true, file)
                    : quantizer.quantize(name, bytes, w.getDims(0), w.getDims(1), layout.equals("T"), file);
            done.put(key, q);
            floatBytes += bytes.size();
            quantizedBytes += bytes.size() / 4;
        }
        return q.weight().getName().equals(name) ? q
                : new WeightQuantizer.Quantized(q.weight().toBuilder().setName(name).build(), q.scales(), q.zeroPoints());
    }

    /** Float bytes of the distinct weights quantized so far. */
    long floatBytes() {
        return floatBytes;
    }

    long quantizedBytes() {
        return quantizedBytes;
    }

    int count() {
        return done.size();
    }
}
