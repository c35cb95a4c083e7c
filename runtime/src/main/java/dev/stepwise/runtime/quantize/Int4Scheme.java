package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;

/**
 * How int4 weights are formed for {@code com.microsoft.MatMulNBits}: blocks of {@code blockSize} elements along K
 * (a power of two from 16 to 256), symmetric (implicit zero point 8) or asymmetric (a packed zero point per block),
 * and the node's {@code accuracy_level}: the least precision ONNX Runtime may compute in (0 unset, 1 fp32, 2 fp16,
 * 3 bf16, 4 int8: activations quantized to int8 per block, the fast path on CPU). The LM head is int8 dynamic
 * (per-channel symmetric) unless {@code headInt4}: of all matrices, 4-bit error in it moves the next token most
 * (on the trained fixture, an int4 head costs 1.4 points of top-1 agreement and more than doubles the KL divergence),
 * and int8 keeps it at a quarter of its float bytes.
 */
public record Int4Scheme(int blockSize, boolean symmetric, int accuracyLevel, boolean headInt4) {
    public static final Int4Scheme DEFAULT = new Int4Scheme(Int4BlockQuantizer.DEFAULT_BLOCK_SIZE, true, 4, false);

    public Int4Scheme {
        Int4BlockQuantizer.requireBlockSize(blockSize);
        if (accuracyLevel < 0 || accuracyLevel > 4) {
            throw new StepwiseException("int4 accuracy level " + accuracyLevel
                    + " is not supported: use 0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8)");
        }
    }

    /** A short name for reports: {@code block 32 symmetric int4, accuracy level 4}. */
    public String describe() {
        return "block " + blockSize + (symmetric ? " symmetric" : " asymmetric") + " int4, accuracy level "
                + accuracyLevel + (headInt4 ? ", int4 head" : ", int8 head");
    }
}
