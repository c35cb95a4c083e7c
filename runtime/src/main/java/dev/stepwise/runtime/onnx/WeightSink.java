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
}
