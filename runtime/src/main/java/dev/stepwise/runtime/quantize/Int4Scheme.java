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
 *
 * @param blockSize     elements per block along K, each block with its own scale: a power of two from 16 to 256
 * @param symmetric     implicit zero point 8, rather than a packed zero point per block
 * @param accuracyLevel {@code MatMulNBits}' {@code accuracy_level}: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8
 * @param headInt4      whether the LM head is int4 too, rather than int8 dynamic
 */
public record Int4Scheme(int blockSize, boolean symmetric, int accuracyLevel, boolean headInt4) {
    /** Blocks of 32, symmetric, accuracy level 4 (int8 activations), int8 head. */
    public static final Int4Scheme DEFAULT = new Int4Scheme(Int4BlockQuantizer.DEFAULT_BLOCK_SIZE, true, 4, false);

    /**
     * Checks the block size and accuracy level.
     *
     * @param blockSize     see {@link #blockSize()}
     * @param symmetric     see {@link #symmetric()}
     * @param accuracyLevel see {@link #accuracyLevel()}
     * @param headInt4      see {@link #headInt4()}
     * @throws StepwiseException when the block size is not a power of two from 16 to 256, or the accuracy level is
     *                           not 0 to 4
     */
    public Int4Scheme {
        Int4BlockQuantizer.requireBlockSize(blockSize);
        if (accuracyLevel < 0 || accuracyLevel > 4) {
            throw new StepwiseException("int4 accuracy level " + accuracyLevel
                    + " is not supported: use 0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8)");
        }
    }

    /**
     * A short name for reports.
     *
     * @return for example {@code block 32 symmetric int4, accuracy level 4, int8 head}
     */
    public String describe() {
        return "block " + blockSize + (symmetric ? " symmetric" : " asymmetric") + " int4, accuracy level "
                + accuracyLevel + (headInt4 ? ", int4 head" : ", int8 head");
    }
}
