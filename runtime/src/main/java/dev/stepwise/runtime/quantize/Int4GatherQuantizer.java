package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;

/**
 * Quantizes an embedding table {@code E [rows, cols]} along its last axis into the int4 layout of
 * {@code com.microsoft.GatherBlockQuantized}, as ONNX Runtime's Python quantizer does for a Gather
 * ({@code DefaultWeightOnlyQuantizer.quantize_ndarray}). Its rules are numpy's, not MLAS's, and differ from
 * {@link Int4BlockQuantizer}'s: the element is divided by the scale (no reciprocal), rounded half to even, and
 * symmetric values are signed int4 in [-8, 7] with no offset; an asymmetric block of scale 0 gets zero point 8.
 */
public final class Int4GatherQuantizer {
    private final int blockSize;
    private final boolean symmetric;

    /** A quantizer with {@code blockSize} (a power of two from 16 to 256) and symmetric or asymmetric mode. */
    public Int4GatherQuantizer(int blockSize, boolean symmetric) {
        this.blockSize = Int4BlockQuantizer.requireBlockSize(blockSize);
        this.symmetric = symmetric;
    }

    /** Quantizes the row-major {@code [rows, cols]} table {@code e}, blocks running along each row. */
    public Int4GatherWeights quantize(float[] e, int rows, int cols) {
        if (rows < 1 || cols < 1 || (long) rows * cols != e.length) {
            throw new IllegalArgumentException("table [" + rows + ", " + cols + "] does not match " + e.length
                    + " floats");
        }
        int blocks = Int4BlockQuantizer.blocks(cols, blockSize);
        Int4GatherWeights out = new Int4GatherWeights(rows, cols, blockSize, new byte[(int) (((long) rows * cols + 1) / 2)],
                new float[Math.multiplyExact(rows, blocks)], symmetric ? null : new byte[(int) (((long) rows * blocks + 1) / 2)]);
        for (int r = 0; r < rows; r++) {
            for (int blk = 0; blk < blocks; blk++) {
                quantizeBlock(e, r, blk, out);
            }
        }
        return out;
    }

    /** The row-major {@code [rows, cols]} table GatherBlockQuantized returns rows of: {@code (q - zp) * scale}. */
    public static float[] dequantize(Int4GatherWeights q) {
        float[] e = new float[Math.multiplyExact(q.rows(), q.cols())];
        for (int r = 0; r < q.rows(); r++) {
            for (int c = 0; c < q.cols(); c++) {
                int blk = c / q.blockSize();
                int meta = r * q.blocks() + blk;
                int value = nibble(q.data(), (long) r * q.cols() + c);
                int zp = 0;
                if (q.zeroPoints() != null) {
                    zp = nibble(q.zeroPoints(), meta);
                } else if (value >= 8) {
                    value -= 16; // signed int4
                }
                e[r * q.cols() + c] = (value - zp) * q.scales()[meta];
            }
        }
        return e;
    }

    private void quantizeBlock(float[] e, int r, int blk, Int4GatherWeights out) {
        int cols = out.cols();
        int start = blk * blockSize;
        int end = Math.min(start + blockSize, cols);
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int c = start; c < end; c++) {
            float v = e[r * cols + c];
            if (!Float.isFinite(v)) {
                throw new StepwiseException("int4 quantization: table element [" + r + ", " + c + "] is " + v
                        + "; only finite weights can be quantized");
            }
            min = c == start || v < min ? v : min; // the first of equal values wins, as numpy's reduction keeps it
            max = c == start || v > max ? v : max;
        }
        int meta = r * out.blocks() + blk;
        float scale;
        int zp;
        if (symmetric) {
            scale = (Math.abs(max) > Math.abs(min) ? max : min) / -8f;
            zp = 0;
        } else {
            float lo = min < 0f ? min : 0f; // np.minimum(x, 0) gives +0.0 for ±0.0
            float hi = max > 0f ? max : 0f;
            scale = (hi - lo) / 15f;
            zp = scale == 0f ? 8 : clamp(rint(-lo / scale), 0, 15);
            setNibble(out.zeroPoints(), meta, zp);
        }
        out.scales()[meta] = scale;
        for (int c = start; c < end; c++) {
            float v = e[r * cols + c];
            int q;
            if (scale == 0f) {
                q = symmetric ? 0 : 8;
            } else {
                q = symmetric ? clamp(rint(v / scale), -8, 7) : clamp(rint(v / scale + zp), 0, 15);
            }
            setNibble(out.data(), (long) r * cols + c, q);
        }
    }

    private static float rint(float x) {
        return (float) Math.rint(x); // numpy's round: half to even
    }

    private static int clamp(float x, int lo, int hi) {
        return (int) Math.max(lo, Math.min(hi, x));
    }

    private static int nibble(byte[] packed, long index) {
        int b = packed[(int) (index >>> 1)] & 0xFF;
        return (index & 1) == 0 ? b & 0xF : b >>> 4;
    }

    private static void setNibble(byte[] packed, long index, int value) {
        int i = (int) (index >>> 1);
        int v = value & 0xF;
        packed[i] = (byte) ((index & 1) == 0 ? (packed[i] & 0xF0) | v : (packed[i] & 0x0F) | (v << 4));
    }
}
