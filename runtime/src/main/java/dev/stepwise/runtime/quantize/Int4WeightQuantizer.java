package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Quantizes one float32 matrix into the shared weights file as int4 blocks, streaming bands of source rows: the
 * {@code B}, {@code scales} and {@code zero_points} of a {@code com.microsoft.MatMulNBits} ({@link Int4BlockQuantizer},
 * ONNX Runtime's MLAS rules), or the {@code data}, {@code scales} and {@code zero_points} of a {@code
 * com.microsoft.GatherBlockQuantized} for an embedding table ({@link Int4GatherQuantizer}, its Python quantizer's
 * rules). One band of floats and its quantized bytes are held at a time; the scales and zero points of the matrix
 * (1/8 and 1/64 of its float bytes at block 32) are held until the band pass is done and then written after it.
 */
final class Int4WeightQuantizer {
    static final int UINT4 = 21;
    static final int INT4 = 22;

    private final Int4Scheme scheme;
    private final int bandBytes;

    Int4WeightQuantizer(Int4Scheme scheme) {
        this(scheme, WeightQuantizer.BAND_BYTES);
    }

    Int4WeightQuantizer(Int4Scheme scheme, int bandBytes) {
        this.scheme = scheme;
        this.bandBytes = bandBytes;
    }

    /** A quantized weight's initializers in the shared file; {@code zeroPoints} is null when symmetric. */
    record Stored(TensorProto data, TensorProto scales, TensorProto zeroPoints) {
        /** The initializers named {@code stem}, {@code stem_scales}, {@code stem_zero_points} (when asymmetric). */
        List<TensorProto> named(String stem) {
            List<TensorProto> l = new ArrayList<>(List.of(WeightRewriter.named(data, stem),
                    WeightRewriter.named(scales, stem + "_scales")));
            if (zeroPoints != null) {
                l.add(WeightRewriter.named(zeroPoints, stem + "_zero_points"));
            }
            return l;
        }
    }

    /**
     * MatMulNBits initializers for the {@code rows × cols} float32 matrix in {@code source}: W is {@code [K, N] = [rows,
     * cols]}, or, {@code transposed}, its transpose is stored ({@code [N, K] = [rows, cols]}: Gemm transB, a tied head).
     */
    Stored matMul(String name, TensorBytes source, long rows, long cols, boolean transposed, SharedExternalData out) {
        int k = Math.toIntExact(transposed ? cols : rows);
        int n = Math.toIntExact(transposed ? rows : cols);
        int bs = scheme.blockSize();
        int blocks = Int4BlockQuantizer.blocks(k, bs);
        long columnBytes = (long) blocks * bs / 2;
        int columnZeroPoints = (blocks + 1) / 2;
        Int4BlockQuantizer q = new Int4BlockQuantizer(bs, scheme.symmetric());
        ByteBuffer scales = ByteBuffer.allocate(Math.toIntExact(4L * n * blocks));
        ByteBuffer zeroPoints = scheme.symmetric() ? null : ByteBuffer.allocate(Math.multiplyExact(n, columnZeroPoints));
        TensorProto header = header(name, TensorProto.DataType.UINT8_VALUE, n, blocks, bs / 2);
        TensorProto b = out.storeNew(header, n * columnBytes, start -> {
            if (transposed) {
                columnBands(q, source, k, n, start, columnBytes, scales, zeroPoints, out, name);
            } else {
                rowBands(q, source, k, n, start, columnBytes, scales, zeroPoints, out, name);
            }
        });
        return new Stored(b, store(out, header(name + "_scales", TensorProto.DataType.FLOAT_VALUE, n, blocks), scales),
                zeroPoints == null ? null
                        : store(out, header(name + "_zero_points", TensorProto.DataType.UINT8_VALUE, n, columnZeroPoints),
                                zeroPoints));
    }

    /** W stored transposed: a band of source rows is a run of whole output columns, written where it lands. */
    private void columnBands(Int4BlockQuantizer q, TensorBytes source, int k, int n, long start, long columnBytes,
                             ByteBuffer scales, ByteBuffer zeroPoints, SharedExternalData out, String name) {
        int m = (int) Math.max(1, Math.min(n, bandBytes / (4L * k)));
        ByteBuffer band = floats(m, k);
        ByteBuffer packed = ByteBuffer.allocateDirect(Math.toIntExact(m * columnBytes));
        for (int c0 = 0; c0 < n; c0 += m) {
            int mm = Math.min(m, n - c0);
            FloatBuffer f = WeightQuantizer.readBand(source, band, c0, mm, k);
            packed.clear();
            q.quantizeColumns(f, k, mm, true, 0, mm, packed, scales, zeroPoints);
            out.writeAt(packed.flip(), start + c0 * columnBytes, name);
        }
    }

    /**
     * W stored {@code [K, N]}: bands of whole block pairs along K (MLAS quantizes a column pair of blocks at a time,
     * so a band's part of each column is what the whole column's quantization puts there); each column's part is
     * written at its place in the column-major B, and its scales and zero points put at theirs.
     */
    private void rowBands(Int4BlockQuantizer q, TensorBytes source, int k, int n, long start, long columnBytes,
                          ByteBuffer scales, ByteBuffer zeroPoints, SharedExternalData out, String name) {
        int bs = scheme.blockSize();
        int blocks = Int4BlockQuantizer.blocks(k, bs);
        int pair = 2 * bs;
        int m = (int) Math.min(k, Math.max(pair, bandBytes / (4L * n) / pair * pair));
        ByteBuffer band = floats(m, n);
        int mBlocks = Int4BlockQuantizer.blocks(m, bs);
        ByteBuffer packed = ByteBuffer.allocateDirect(Math.multiplyExact(n, mBlocks * bs / 2));
        ByteBuffer bandScales = ByteBuffer.allocate(4 * n * mBlocks);
        ByteBuffer bandZeroPoints = zeroPoints == null ? null : ByteBuffer.allocate(n * ((mBlocks + 1) / 2));
        for (int r0 = 0; r0 < k; r0 += m) {
            int mm = Math.min(m, k - r0);
            FloatBuffer f = WeightQuantizer.readBand(source, band, r0, mm, n);
            packed.clear();
            bandScales.clear();
            if (bandZeroPoints != null) {
                bandZeroPoints.clear();
            }
            q.quantizeColumns(f, mm, n, false, 0, n, packed, bandScales, bandZeroPoints);
            if (mm == k) { // one band: already laid out as the whole tensors
                out.writeAt(packed.flip(), start, name);
                scales.put(bandScales.flip());
                if (zeroPoints != null) {
                    zeroPoints.put(bandZeroPoints.flip());
                }
                continue;
            }
            int bb = Int4BlockQuantizer.blocks(mm, bs);
            int partBytes = bb * bs / 2;
            int partPairs = (bb + 1) / 2;
            int firstBlock = r0 / bs;
            for (int c = 0; c < n; c++) {
                packed.limit((c + 1) * partBytes).position(c * partBytes);
                out.writeAt(packed, start + c * columnBytes + r0 / 2, name);
                scales.put((c * blocks + firstBlock) * 4, bandScales, c * bb * 4, bb * 4);
                if (zeroPoints != null) {
                    zeroPoints.put(c * ((blocks + 1) / 2) + firstBlock / 2, bandZeroPoints, c * partPairs, partPairs);
                }
            }
        }
        scales.position(scales.capacity());
        if (zeroPoints != null) {
            zeroPoints.position(zeroPoints.capacity());
        }
    }

    /**
     * GatherBlockQuantized initializers for an embedding table {@code E [rows, cols]}, blocks along each row
     * ({@code quantize_axis} 1): int4 data (signed when symmetric), float scales and uint4 zero points {@code [rows,
     * blocks]}. Bands of an even number of rows keep the packed nibbles of each band in whole bytes.
     */
    Stored gather(String name, TensorBytes source, long rows, long cols, SharedExternalData out) {
        int r = Math.toIntExact(rows);
        int c = Math.toIntExact(cols);
        int blocks = Int4BlockQuantizer.blocks(c, scheme.blockSize());
        Int4GatherQuantizer q = new Int4GatherQuantizer(scheme.blockSize(), scheme.symmetric());
        ByteBuffer scales = ByteBuffer.allocate(Math.toIntExact(4L * r * blocks)).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer zeroPoints = scheme.symmetric() ? null : ByteBuffer.allocate(Math.toIntExact(((long) r * blocks + 1) / 2));
        int m = (int) Math.min(r, Math.max(2, bandBytes / (4L * c) / 2 * 2));
        ByteBuffer band = floats(m, c);
        float[] e = new float[m * c];
        TensorProto header = header(name, scheme.symmetric() ? INT4 : UINT4, r, c);
        TensorProto data = out.storeNew(header, ((long) r * c + 1) / 2, start -> {
            for (int r0 = 0; r0 < r; r0 += m) {
                int mm = Math.min(m, r - r0);
                WeightQuantizer.readBand(source, band, r0, mm, c).get(e, 0, mm * c);
                Int4GatherWeights w = q.quantize(mm == m ? e : java.util.Arrays.copyOf(e, mm * c), mm, c);
                out.writeAt(ByteBuffer.wrap(w.data()), start + (long) r0 * c / 2, name);
                for (float s : w.scales()) {
                    scales.putFloat(s);
                }
                if (zeroPoints != null) {
                    zeroPoints.put(w.zeroPoints());
                }
            }
        });
        return new Stored(data, store(out, header(name + "_scales", TensorProto.DataType.FLOAT_VALUE, r, blocks), scales),
                zeroPoints == null ? null : store(out, header(name + "_zero_points", UINT4, r, blocks), zeroPoints));
    }

    private static ByteBuffer floats(long rows, long cols) {
        return ByteBuffer.allocateDirect(Math.toIntExact(rows * cols * 4)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A tensor held whole (scales, zero points), filled up to its position, stored in the shared file. */
    private static TensorProto store(SharedExternalData out, TensorProto header, ByteBuffer filled) {
        filled.flip();
        return out.storeNew(header, filled.remaining(), start -> out.writeAt(filled, start, header.getName()));
    }

    private static TensorProto header(String name, int type, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type);
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }
}
