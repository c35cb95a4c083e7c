package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.util.HashMap;
import java.util.Map;

/**
 * Hands every graph traced through it the same initializer for the same weight, so several graphs (the step graphs
 * of an unroll, or a decoder and its generation graphs) point into one weights file that holds each weight once.
 */
public final class DedupWeightSink implements WeightSink {
    private final WeightSink delegate;
    private final Map<String, TensorProto> written = new HashMap<>();

    public DedupWeightSink(WeightSink delegate) {
        this.delegate = delegate;
    }

    @Override
    public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
        // Keyed by type too: an fp32 graph must never be handed the fp16 copy of a weight.
        return written.computeIfAbsent("plain:" + type + ":" + name, k -> delegate.write(name, type, dims, data));
    }

    @Override
    public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
        return written.computeIfAbsent("transposed:" + type + ":" + name,
                k -> delegate.writeTransposed(name, type, rows, cols, data));
    }
}
