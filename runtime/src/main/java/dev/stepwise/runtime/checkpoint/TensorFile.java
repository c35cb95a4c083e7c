package dev.stepwise.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Set;

/**
 * One file of named tensors inside a checkpoint folder: a {@code .safetensors} file or a {@code torch.save} zip
 * ({@code pytorch_model.bin}). Everything about the file is checked when it is opened; tensor bytes are memory-mapped
 * on demand. Errors are one-line {@code StepwiseException}s naming {@link #path()} and the tensor.
 */
public interface TensorFile extends AutoCloseable {
    Path path();

    /** Tensor names in the order the file lists them. */
    Set<String> names();

    boolean has(String name);

    SafetensorsDtype dtype(String name);

    long[] shape(String name);

    /** The tensor's stored bytes, row-major, as a read-only little-endian mapping of the file (no copy); at most 2 GiB. */
    ByteBuffer raw(String name);

    /**
     * Reads stored bytes {@code [offset, offset + dst.remaining())} of the tensor into {@code dst} with positional
     * reads (no mapping, any tensor size); {@code dst}'s position ends at its limit.
     */
    void readRaw(String name, long offset, ByteBuffer dst);

    /**
     * The tensor as little-endian float32, positioned at 0 with limit 4 × element count: the mapping itself for F32,
     * a new direct buffer of widened values for F16 and BF16.
     */
    ByteBuffer float32(String name);

    /** Closes the file; buffers already handed out stay valid (the JVM unmaps them when they are collected). */
    @Override
    void close();
}
