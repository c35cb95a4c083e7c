package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;

/** Reports the bytes of weights written while tracing, which is where an export of a large model spends its time. */
final class ProgressWeightSink implements WeightSink {
    private final WeightSink delegate;
    private final ProgressListener progress;

    ProgressWeightSink(WeightSink delegate, ProgressListener progress) {
        this.delegate = delegate;
        this.progress = progress;
    }

    @Override
    public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
        TensorProto t = delegate.write(name, type, dims, data);
        progress.advance(data.size() >> 20);
        return t;
    }

    @Override
    public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
        TensorProto t = delegate.writeTransposed(name, type, rows, cols, data);
        progress.advance(data.size() >> 20);
        return t;
    }
}
