package dev.stepwise.runtime.checkpoint;

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

    /** Where the weights come from, for error messages (a folder or file path). */
    String describe();
}
