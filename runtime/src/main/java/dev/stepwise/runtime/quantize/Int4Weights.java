package dev.stepwise.runtime.quantize;

/**
 * The three initializers of a {@code com.microsoft.MatMulNBits} (bits 4) node for a weight {@code W [K, N]}, laid
 * out as ONNX Runtime's Python quantizer writes them. Column {@code n} of W owns a contiguous run in each array.
 *
 * @param k          input features (rows of W)
 * @param n          output features (columns of W)
 * @param blockSize  elements of one column quantized together
 * @param b          uint8 {@code [N, blocks, blockSize / 2]}: element 2i of a block in the low nibble, 2i+1 in the high
 * @param scales     float {@code [N, blocks]}
 * @param zeroPoints uint8 {@code [N, ceil(blocks / 2)]}, block 2j in the low nibble; {@code null} when symmetric
 *                   (MatMulNBits then takes 8)
 */
public record Int4Weights(int k, int n, int blockSize, byte[] b, float[] scales, byte[] zeroPoints) {

    /** Quantized blocks per column: {@code ceil(K / blockSize)}, the last one padded. */
    public int blocks() {
        return Int4BlockQuantizer.blocks(k, blockSize);
    }

    public boolean symmetric() {
        return zeroPoints == null;
    }

    /** Dims of the {@code B} initializer. */
    public long[] bDims() {
        return new long[] {n, blocks(), blockSize / 2};
    }

    /** Dims of the {@code scales} initializer. */
    public long[] scalesDims() {
        return new long[] {n, blocks()};
    }

    /** Dims of the {@code zero_points} initializer (asymmetric only). */
    public long[] zeroPointsDims() {
        return new long[] {n, (blocks() + 1) / 2};
    }
}
