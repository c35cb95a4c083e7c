package dev.stepwise.runtime.loop;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A weight sink that reuses the external-data initializers of a model already written in the same folder (the
 * exported decoder) instead of storing the weights again: the loop graph then points into the decoder's
 * {@code model.onnx_data}, so both files share one copy of the weights on disk. A weight the model does not hold
 * externally under the same name, element type and shape goes to {@code fallback}.
 */
public final class SharedWeightSink implements WeightSink {
    private final Map<String, TensorProto> external = new HashMap<>();
    private final WeightSink fallback;
    private int reused;

    public SharedWeightSink(ModelProto existing, WeightSink fallback) {
        this.fallback = fallback;
        for (TensorProto t : existing.getGraph().getInitializerList()) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                external.put(t.getName(), t);
            }
        }
    }

    /** How many weights were shared rather than written. */
    public int reusedCount() {
        return reused;
    }

    @Override
    public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
        TensorProto t = match(name, OnnxTypes.elemType(type), dims);
        return t != null ? t : fallback.write(name, type, dims, data);
    }

    @Override
    public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
        TensorProto t = match(name, OnnxTypes.elemType(type), new long[] {cols, rows});
        return t != null ? t : fallback.writeTransposed(name, type, rows, cols, data);
    }

    private TensorProto match(String name, int elemType, long[] dims) {
        TensorProto t = external.get(name);
        if (t == null || t.getDataType() != elemType) {
            return null;
        }
        long[] have = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        if (!Arrays.equals(have, dims)) {
            return null;
        }
        reused++;
        return t;
    }
}
