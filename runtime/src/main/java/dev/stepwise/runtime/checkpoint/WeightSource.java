package dev.stepwise.runtime.checkpoint;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * Named checkpoint tensors, read lazily. Backends ask for one tensor at a time so a model never has to sit on the
 * Java heap: the checkpoint implementation hands out slices of its memory-mapped files.
 */
public interface WeightSource {
    boolean has(String name);

    /** Shape of a tensor; throws {@code StepwiseException} naming the tensor when absent. */
    long[] shape(String name);

    Set<String> names();

    /**
     * The tensor's elements as float32, little-endian, row-major, positioned at 0 with limit = 4 × element count.
     * For an F32 checkpoint this is a read-only slice of the mapped file (no copy); F16/BF16 are widened into a new
     * direct buffer.
     */
    ByteBuffer float32(String name);

    /**
     * The tensor's elements as IEEE float16, little-endian, row-major, positioned at 0 with limit = 2 × element count.
     * This default narrows {@link #float32} (round to nearest even); a source holding float16 already hands its bytes
     * over as stored. A value beyond float16's range is an error naming the tensor.
     */
    default ByteBuffer float16(String name) {
        try {
            return HalfFloats.narrowToFloat16(float32(name));
        } catch (ArithmeticException e) {
            throw new StepwiseException(describe() + ": tensor '" + name + "' cannot be stored as float16: "
                    + e.getMessage());
        }
    }

    /**
     * The tensor's elements as {@code type} ({@code FLOAT} or {@code FLOAT16}), read piece by piece: any size, and
     * converted while read. This default wraps {@link #float32} / {@link #float16}; a checkpoint reads its files.
     */
    default TensorBytes bytes(String name, DType type) {
        return TensorBytes.of(type == DType.FLOAT16 ? float16(name) : float32(name));
    }

    /** Where the weights come from, for error messages (a folder or file path). */
    String describe();
}
