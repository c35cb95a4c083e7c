package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;

/**
 * Where weights go while a graph is traced. Each weight is handed over once, as soon as the forward asks for it, and
 * comes back as the initializer that refers to its stored bytes, so the tracer never holds a model's weights. The
 * bytes are read piece by piece ({@link TensorBytes}), so a weight may be larger than any one buffer.
 */
public interface WeightSink {

    /** Stores a tensor of {@code type} and {@code dims} whose little-endian, row-major bytes are {@code data}. */
    TensorProto write(String name, DType type, long[] dims, TensorBytes data);

    /**
     * Stores the transpose of a {@code rows × cols} matrix of {@code type} ({@code FLOAT} or {@code FLOAT16}, given
     * row-major in {@code data}) as a {@code [cols, rows]} initializer, transposing while streaming rather than
     * building a transposed copy.
     */
    TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data);

    /** {@link #write(String, DType, long[], TensorBytes)} of a buffer's remaining bytes (not moved). */
    default TensorProto write(String name, DType type, long[] dims, ByteBuffer data) {
        return write(name, type, dims, TensorBytes.of(data));
    }
}
