package dev.stepwise.runtime.ort;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights several ONNX files share through one external data file, memory-mapped once and handed to each of
 * their ONNX Runtime sessions as shared initializers ({@code SessionOptions.addInitializer}). ONNX Runtime
 * then computes with the mapped pages instead of loading the file into each session, so 32 step graphs cost one copy
 * of the weights (the page cache's), not 32.
 *
 * <p>A tensor is identified by its file region (file, offset, length) and type: two graphs that name the same
 * region get the same {@link OnnxTensor}. Tensors stay valid until {@link #close}, which must come after every session
 * that uses them is closed. Thread-safe.
 */
public final class SharedWeights implements AutoCloseable {
    /** One external region as ONNX Runtime will see it. */
    private record Region(String file, String offset, long length, int type, List<Long> dims) {
    }

    private final Map<Region, OnnxTensor> tensors = new HashMap<>();
    private boolean closed;

    /**
     * The external initializers of {@code model} by name, mapped on first use. Inline initializers are not included:
     * ONNX Runtime reads those from the graph itself.
     */
    public synchronized Map<String, OnnxTensorLike> initializers(OnnxModelReader model) {
        if (closed) {
            throw new IllegalStateException("shared weights already closed");
        }
        Map<String, OnnxTensorLike> out = new LinkedHashMap<>();
        for (TensorProto t : model.initializers()) {
            if (!OnnxModelReader.isExternal(t)) {
                continue;
            }
            // the file as resolved from this model's folder: two folders' "model.onnx_data" are different files
            String file = model.directory().resolve(value(t, "location")).normalize().toString();
            Region region = new Region(file, value(t, "offset"), model.byteLength(t), t.getDataType(), t.getDimsList());
            OnnxTensor tensor = tensors.get(region);
            if (tensor == null) {
                tensor = map(model, t);
                tensors.put(region, tensor);
            }
            out.put(t.getName(), tensor);
        }
        return out;
    }

    /** Bytes of weights mapped so far (each region once). */
    public synchronized long mappedBytes() {
        long n = 0;
        for (Region r : tensors.keySet()) {
            n += r.length();
        }
        return n;
    }

    private static OnnxTensor map(OnnxModelReader model, TensorProto t) {
        long length = model.byteLength(t);
        if (length > Integer.MAX_VALUE) {
            throw new StepwiseException(model.file() + ": initializer '" + t.getName() + "' is " + length
                    + " bytes; ONNX Runtime's Java API takes at most 2 GiB per external initializer");
        }
        ByteBuffer data = model.data(t); // a read-only memory map of the region: no copy
        if (!data.isDirect() || data.order() != ByteOrder.nativeOrder()) {
            throw new StepwiseException(model.file() + ": initializer '" + t.getName()
                    + "' cannot be shared in place (not a little-endian memory map)");
        }
        long[] shape = new long[t.getDimsCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.getDims(i);
        }
        OnnxJavaType type = OrtTensors.javaType(t.getDataType());
        if (type == OnnxJavaType.UNKNOWN) {
            throw new StepwiseException(model.file() + ": initializer '" + t.getName() + "' has data type "
                    + t.getDataType() + ", which ONNX Runtime's Java API cannot wrap");
        }
        try {
            // a typed view of the same mapped bytes: ONNX Runtime's Java API counts elements in the buffer's own type
            OrtEnvironment env = OrtSessions.environment();
            return switch (type) {
                case FLOAT -> OnnxTensor.createTensor(env, data.asFloatBuffer(), shape);
                case DOUBLE -> OnnxTensor.createTensor(env, data.asDoubleBuffer(), shape);
                case INT64 -> OnnxTensor.createTensor(env, data.asLongBuffer(), shape);
                case INT32 -> OnnxTensor.createTensor(env, data.asIntBuffer(), shape);
                case INT16, FLOAT16, BFLOAT16 -> OnnxTensor.createTensor(env, data.asShortBuffer(), shape, type);
                default -> OnnxTensor.createTensor(env, data, shape, type);
            };
        } catch (OrtException e) {
            throw new StepwiseException(model.file() + ": cannot hand initializer '" + t.getName()
                    + "' to ONNX Runtime: " + e.getMessage(), e);
        }
    }

    private static String value(TensorProto t, String key) {
        return t.getExternalDataList().stream().filter(e -> e.getKey().equals(key)).map(e -> e.getValue())
                .findFirst().orElse("");
    }

    @Override
    public synchronized void close() {
        List<OnnxTensor> all = new ArrayList<>(tensors.values());
        tensors.clear();
        closed = true;
        all.forEach(OnnxTensor::close);
    }
}
