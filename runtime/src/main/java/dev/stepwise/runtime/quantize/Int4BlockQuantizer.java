package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Quantizes a float MatMul weight {@code W [K, N]} (ONNX MatMul's B: K input features, N output features) to the
 * int4 blocks of {@code com.microsoft.MatMulNBits}, exactly as ONNX Runtime's own quantizer does
 * ({@code MatMulNBitsQuantizer}, which calls MLAS's {@code MlasQuantizeBlockwise}): each column is cut into blocks of
 * {@code blockSize} rows along K, the last one short when K is not a multiple; each block gets a scale (and, when
 * asymmetric, a zero point); the arithmetic is in {@link MlasInt4Rules}. The bytes equal that tool's, bit for bit,
 * including the padding it leaves in the last block (see {@code Int4BlockQuantizerTest}).
 */
public final class Int4BlockQuantizer {
    public static final int DEFAULT_BLOCK_SIZE = 32;

    private final int blockSize;
    private final boolean symmetric;

    /**
     * A quantizer with {@code blockSize} (a power of two from 16 to 256, the sizes MatMulNBits and MLAS support) and
     * symmetric (implicit zero point 8) or asymmetric (one zero point per block) mode.
     */
    public Int4BlockQuantizer(int blockSize, boolean symmetric) {
        this.blockSize = requireBlockSize(blockSize);
        this.symmetric = symmetric;
    }

    /** {@code blockSize} if it is a power of two from 16 to 256; otherwise a one-line error saying what is allowed. */
    static int requireBlockSize(int blockSize) {
        if (blockSize < 16 || blockSize > 256 || Integer.bitCount(blockSize) != 1) {
            throw new StepwiseException("int4 block size " + blockSize
                    + " is not supported: use a power of two from 16 to 256 (16, 32, 64, 128, 256)");
        }
        return blockSize;
    }

    public int blockSize() {
        return blockSize;
    }

    public boolean symmetric() {
        return symmetric;
    }

    /** Blocks per column of a weight with {@code k} rows: {@code ceil(k / blockSize)}. */
    public static int blocks(int k, int blockSize) {
        return (k + blockSize - 1) / blockSize;
    }

    /** Quantizes a row-major {@code [k, n]} matrix. */
    public Int4Weights quantize(float[] w, int k, int n) {
        return quantize(FloatBuffer.wrap(w), k, n);
    }

    /** Quantizes the row-major {@code [k, n]} matrix that starts at {@code w}'s position (not moved). */
    public Int4Weights quantize(FloatBuffer w, int k, int n) {
        checkShape(w, k, n);
        int blocks = blocks(k, blockSize);
        Int4Weights out = new Int4Weights(k, n, blockSize, new byte[Math.multiplyExact(n, blocks * blockSize / 2)],
                new float[Math.multiplyExact(n, blocks)], symmetric ? null : new byte[n * ((blocks + 1) / 2)]);
        float[] column = new float[k];
        for (int c = 0; c < n; c++) {
            readColumn(w, k, n, false, c, column);
            quantizeColumn(column, c, out.b(), c * (blocks * blockSize / 2), out.scales(), c * blocks,
                    out.zeroPoints(), c * ((blocks + 1) / 2));
        }
        return out;
    }

    /**
     * Quantizes columns {@code from} (inclusive) to {@code to} (exclusive) of the row-major {@code [k, n]} matrix
     * at {@code w}'s position and appends their parts of B, scales (little-endian float32) and zero points
     * (asymmetric only; may be null when symmetric) at the buffers' positions, which advance. Called for successive
     * column ranges, it writes the whole initializers piece by piece, so no full copy of them need be held.
     */
    public void quantizeColumns(FloatBuffer w, int k, int n, int from, int to,
                                ByteBuffer b, ByteBuffer scales, ByteBuffer zeroPoints) {
        quantizeColumns(w, k, n, false, from, to, b, scales, zeroPoints);
    }

    /**
     * As {@link #quantizeColumns(FloatBuffer, int, int, int, int, ByteBuffer, ByteBuffer, ByteBuffer)}; with {@code
     * transposed}, {@code w} holds the matrix's transpose {@code [n, k]} row-major, each column of W a contiguous row
     * (how a Gemm with transB and a tied LM head reading the embedding store their weight).
     */
    public void quantizeColumns(FloatBuffer w, int k, int n, boolean transposed, int from, int to,
                                ByteBuffer b, ByteBuffer scales, ByteBuffer zeroPoints) {
        checkShape(w, k, n);
        if (from < 0 || to > n || from > to) {
            throw new IllegalArgumentException("columns [" + from + ", " + to + ") out of [0, " + n + ")");
        }
        if (!symmetric && zeroPoints == null) {
            throw new IllegalArgumentException("asymmetric int4 quantization needs a zero point buffer");
        }
        int blocks = blocks(k, blockSize);
        int zpBytes = (blocks + 1) / 2;
        float[] column = new float[k];
        byte[] bPart = new byte[blocks * blockSize / 2];
        float[] sPart = new float[blocks];
        byte[] zPart = symmetric ? null : new byte[zpBytes];
        for (int c = from; c < to; c++) {
            readColumn(w, k, n, transposed, c, column);
            quantizeColumn(column, c, bPart, 0, sPart, 0, zPart, 0);
            b.put(bPart);
            for (float s : sPart) {
                putLittleEndian(scales, Float.floatToRawIntBits(s));
            }
            if (zPart != null) {
                zeroPoints.put(zPart);
            }
        }
    }

    /** The row-major {@code [K, N]} float matrix that MatMulNBits computes with: {@code (q - zp) * scale}. */
    public static float[] dequantize(Int4Weights q) {
        int k = q.k();
        int n = q.n();
        int blocks = q.blocks();
        int bytesPerColumn = blocks * q.blockSize() / 2;
        float[] w = new float[Math.multiplyExact(k, n)];
        for (int c = 0; c < n; c++) {
            for (int r = 0; r < k; r++) {
                int blk = r / q.blockSize();
                int packed = q.b()[c * bytesPerColumn + r / 2] & 0xFF;
                int value = (r & 1) == 0 ? packed & 0xF : packed >>> 4;
                w[r * n + c] = MlasInt4Rules.dequantize(value, zeroPoint(q, c, blk), q.scales()[c * blocks + blk]);
            }
        }
        return w;
    }

    private static int zeroPoint(Int4Weights q, int column, int block) {
        if (q.zeroPoints() == null) {
            return MlasInt4Rules.SYMMETRIC_ZERO_POINT;
        }
        int packed = q.zeroPoints()[column * ((q.blocks() + 1) / 2) + block / 2] & 0xFF;
        return (block & 1) == 0 ? packed & 0xF : packed >>> 4;
    }

    /**
     * One column's blocks, scales and zero points. MLAS works on pairs of blocks (one pair fills whole zero-point
     * bytes); its quirks are kept: the zero point of a missing odd block is 8, and when K is odd the high nibble of
     * the last byte repeats the previous byte's high nibble within the same pair (0 when there is none). Bytes past
     * K are 0, as the Python tool's zero-filled arrays leave them.
     */
    private void quantizeColumn(float[] col, int column, byte[] b, int bOff, float[] scales, int sOff,
                                byte[] zp, int zOff) {
        int k = col.length;
        int blocks = blocks(k, blockSize);
        java.util.Arrays.fill(b, bOff, bOff + blocks * blockSize / 2, (byte) 0);
        int[] pairZeroPoints = new int[2];
        for (int pair = 0; pair * 2 < blocks; pair++) {
            pairZeroPoints[0] = MlasInt4Rules.SYMMETRIC_ZERO_POINT;
            pairZeroPoints[1] = MlasInt4Rules.SYMMETRIC_ZERO_POINT;
            for (int half = 0; half < 2 && pair * 2 + half < blocks; half++) {
                int blk = pair * 2 + half;
                scanBlock(col, column, blk, scales, sOff, pairZeroPoints, half);
            }
            if (zp != null) {
                zp[zOff + pair] = (byte) ((pairZeroPoints[0] & 0xF) | (pairZeroPoints[1] << 4));
            }
            int start = pair * 2 * blockSize;
            int end = Math.min(start + 2 * blockSize, k);
            int high = 0; // MLAS's vi[1], kept across the pair's bytes
            for (int r = start; r < end; r += 2) {
                int low = element(col, r, scales, sOff, pairZeroPoints);
                if (r + 1 < end) {
                    high = element(col, r + 1, scales, sOff, pairZeroPoints);
                }
                b[bOff + r / 2] = (byte) ((low & 0xF) | (high << 4));
            }
        }
    }

    /** The range of block {@code blk}, turned into its scale and (asymmetric) zero point. */
    private void scanBlock(float[] col, int column, int blk, float[] scales, int sOff, int[] pairZeroPoints, int half) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        int end = Math.min((blk + 1) * blockSize, col.length);
        for (int r = blk * blockSize; r < end; r++) {
            float v = col[r];
            if (!Float.isFinite(v)) {
                throw new StepwiseException("int4 quantization: weight element [" + r + ", " + column + "] is " + v
                        + "; only finite weights can be quantized");
            }
            if (v < min) {
                min = v;
            }
            if (v > max) {
                max = v;
            }
        }
        if (symmetric) {
            scales[sOff + blk] = MlasInt4Rules.symmetricScale(min, max);
        } else {
            float scale = MlasInt4Rules.asymmetricScale(min, max);
            scales[sOff + blk] = scale;
            pairZeroPoints[half] = MlasInt4Rules.zeroPoint(min, scale);
        }
    }

    private int element(float[] col, int r, float[] scales, int sOff, int[] pairZeroPoints) {
        int blk = r / blockSize;
        return MlasInt4Rules.quantize(col[r], scales[sOff + blk], pairZeroPoints[blk & 1]);
    }

    private static void readColumn(FloatBuffer w, int k, int n, boolean transposed, int c, float[] column) {
        int base = w.position();
        if (transposed) {
            w.get(base + c * k, column, 0, k);
            return;
        }
        for (int r = 0; r < k; r++) {
            column[r] = w.get(base + r * n + c);
        }
    }

    private static void checkShape(FloatBuffer w, int k, int n) {
        if (k < 1 || n < 1) {
            throw new IllegalArgumentException("int4 quantization needs K, N >= 1, got [" + k + ", " + n + "]");
        }
        if ((long) k * n > w.remaining()) {
            throw new IllegalArgumentException("weight [" + k + ", " + n + "] needs " + (long) k * n
                    + " floats, the buffer has " + w.remaining());
        }
    }

    private static void putLittleEndian(ByteBuffer buf, int bits) {
        buf.put((byte) bits).put((byte) (bits >>> 8)).put((byte) (bits >>> 16)).put((byte) (bits >>> 24));
    }
}
