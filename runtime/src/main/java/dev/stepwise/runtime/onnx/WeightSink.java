package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;

/**
 * Where weights go while a graph is traced. Each weight is handed over once, as soon as the forward asks for it, and
 * comes back as the initializer that refers to its stored bytes, so the tracer never holds a model's weights.
 */
public interface WeightSink {

    /**
     * Stores a tensor whose little-endian, row-major bytes are {@code data}'s remaining bytes (the buffer's position is
     * not moved) and returns the initializer that points at them.
     */
    TensorProto write(String name, DType type, long[] dims, ByteBuffer data);

    /**
     * Stores the transpose of a float32 matrix of {@code rows × cols} (given row-major in {@code data}) as a
     * {@code [cols, rows]} initializer, transposing while streaming rather than building a transposed copy.
     */
    TensorProto writeTransposed(String name, long rows, long cols, ByteBuffer data);

    /**
     * As {@link #writeTransposed(String, long, long, ByteBuffer)} for a matrix of {@code type} ({@code FLOAT} or
     * {@code FLOAT16}); sinks that store only float32 keep this default.
     */
    default TensorProto writeTransposed(String name, DType type, long rows, long cols, ByteBuffer data) {
        if (type == DType.FLOAT) {
            return writeTransposed(name, rows, cols, data);
        }
        throw new UnsupportedOperationException(getClass().getSimpleName() + " stores float32 matrices only, not "
                + type + " ('" + name + "')");
    }
}
