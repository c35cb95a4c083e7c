package dev.stepwise.runtime.quantize;

/**
 * The initializers of a {@code com.microsoft.GatherBlockQuantized} node for an embedding table {@code E [rows, cols]}
 * quantized along its last axis ({@code quantize_axis} 1), as ONNX Runtime's Python quantizer writes them.
 *
 * @param data       int4 {@code [rows, cols]} (signed when symmetric, unsigned when asymmetric), packed two a byte
 *                   over the row-major elements, element 2i in the low nibble
 * @param scales     float {@code [rows, blocks]}
 * @param zeroPoints uint4 {@code [rows, blocks]} packed the same way; {@code null} when symmetric (zero point 0)
 */
public record Int4GatherWeights(int rows, int cols, int blockSize, byte[] data, float[] scales, byte[] zeroPoints) {

    /** Blocks per row: {@code ceil(cols / blockSize)}, the last one short. */
    public int blocks() {
        return Int4BlockQuantizer.blocks(cols, blockSize);
    }

    public boolean symmetric() {
        return zeroPoints == null;
    }

    /** Dims of the data initializer, in int4 elements. */
    public long[] dataDims() {
        return new long[] {rows, cols};
    }

    /** Dims of the scales and the zero points. */
    public long[] scalesDims() {
        return new long[] {rows, blocks()};
    }
}
