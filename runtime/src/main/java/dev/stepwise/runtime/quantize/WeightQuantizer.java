package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;


/**
 * Quantizes one float32 matrix into the shared weights file as the {@code [K, N]} int8/uint8 B of a MatMulInteger,
 * streaming: a first pass over bands of source rows finds each output column's (or the tensor's) range, a second
 * quantizes band by band and writes. The source is {@code [K, N]} (a MatMul weight) or, {@code transposed}, {@code
 * [N, K]} (a Gemm with transB, or a tied LM head reading the embedding), transposed while it is written. Only two
 * band buffers are ever held, so weights of any size (above 2 GiB too) go through.
 */
final class WeightQuantizer {
    static final int BAND_BYTES = 16 << 20;

    private final Int8Scheme scheme;
    private final int bandBytes;

    WeightQuantizer(Int8Scheme scheme) {
        this(scheme, BAND_BYTES);
    }

    WeightQuantizer(Int8Scheme scheme, int bandBytes) {
        this.scheme = scheme;
        this.bandBytes = bandBytes;
    }

    /** A quantized weight: its initializer in the shared file, and one scale and zero point per column (or one). */
    record Quantized(TensorProto weight, float[] scales, int[] zeroPoints) {
    }

    /**
     * Quantizes a {@code rows × cols} float32 matrix held in {@code source}; output channels are its columns, or its
     * rows when {@code transposed}. The result is named {@code name}, shape {@code [K, N]}.
     */
    Quantized quantize(String name, TensorBytes source, long rows, long cols, boolean transposed,
                       SharedExternalData out) {
        return quantize(name, source, rows, cols, transposed, transposed, null, out);
    }

    /**
     * As above, the weight first multiplied by {@code kScale[k]} along its input axis K (rows, or columns when
     * {@code transposed}): {@code diag(s) · W} of {@link Smoothing}; null for none.
     */
    Quantized quantize(String name, TensorBytes source, long rows, long cols, boolean transposed, float[] kScale,
                       SharedExternalData out) {
        return quantize(name, source, rows, cols, transposed, transposed, kScale, out);
    }

    /**
     * As above, with the layout chosen apart from the channels: {@code rowChannels} gives one scale per source row,
     * {@code transposed} writes the {@code [cols, rows]} transpose. An embedding table for a quantized Gather keeps
     * its {@code [V, H]} layout with one scale per row (token).
     */
    Quantized quantize(String name, TensorBytes source, long rows, long cols, boolean transposed, boolean rowChannels,
                       SharedExternalData out) {
        return quantize(name, source, rows, cols, transposed, rowChannels, null, out);
    }

    private Quantized quantize(String name, TensorBytes source, long rows, long cols, boolean transposed,
                               boolean rowChannels, float[] kScale, SharedExternalData out) {
        long channels = rowChannels ? rows : cols;
        float[] min = new float[scheme.perChannel() ? Math.toIntExact(channels) : 1];
        float[] max = new float[min.length];
        int bandRows = (int) Math.max(1, Math.min(rows, bandBytes / (4 * cols)));
        ByteBuffer band = ByteBuffer.allocateDirect(Math.toIntExact(bandRows * cols * 4)).order(ByteOrder.LITTLE_ENDIAN);
        for (long r0 = 0; r0 < rows; r0 += bandRows) {
            int n = (int) Math.min(bandRows, rows - r0);
            FloatBuffer f = scaled(readBand(source, band, r0, n, cols), kScale, r0, n, cols, transposed);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < cols; j++) {
                    float v = f.get((int) (i * cols + j));
                    int c = !scheme.perChannel() ? 0 : rowChannels ? (int) (r0 + i) : j;
                    min[c] = Math.min(min[c], v);
                    max[c] = Math.max(max[c], v);
                }
            }
        }
        float[] scales = new float[min.length];
        int[] zeroPoints = new int[min.length];
        for (int c = 0; c < min.length; c++) {
            scales[c] = scheme.scale(min[c], max[c]);
            zeroPoints[c] = scheme.zeroPoint(min[c], max[c], scales[c]);
        }
        long k = transposed ? cols : rows;
        long n = transposed ? rows : cols;
        TensorProto header = TensorProto.newBuilder().setName(name).setDataType(scheme.elemType())
                .addDims(k).addDims(n).build();
        ByteBuffer q = ByteBuffer.allocateDirect(Math.toIntExact(bandRows * cols));
        TensorProto weight = out.storeNew(header, k * n, start -> {
            for (long r0 = 0; r0 < rows; r0 += bandRows) {
                int m = (int) Math.min(bandRows, rows - r0);
                FloatBuffer f = scaled(readBand(source, band, r0, m, cols), kScale, r0, m, cols, transposed);
                q.clear();
                if (!transposed) {
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < cols; j++) {
                            int c = !scheme.perChannel() ? 0 : rowChannels ? (int) (r0 + i) : j;
                            q.put(scheme.quantize(f.get((int) (i * cols + j)), scales[c], zeroPoints[c]));
                        }
                    }
                    out.writeAt(q.flip(), start + r0 * cols, name);
                    continue;
                }
                // band rows are output columns r0..r0+m: lay them out as [cols (= K), m] and write each K-row segment
                for (int kk = 0; kk < cols; kk++) {
                    for (int i = 0; i < m; i++) {
                        int c = scheme.perChannel() ? (int) (r0 + i) : 0;
                        q.put(scheme.quantize(f.get((int) (i * cols + kk)), scales[c], zeroPoints[c]));
                    }
                }
                q.flip();
                if (m == rows) {
                    out.writeAt(q, start, name);
                    continue;
                }
                for (int kk = 0; kk < cols; kk++) {
                    q.limit((kk + 1) * m).position(kk * m);
                    out.writeAt(q, start + kk * rows + r0, name);
                }
            }
        });
        return new Quantized(weight, scales, zeroPoints);
    }

    /** The band multiplied in place by {@code kScale} along K (its rows, or its columns when transposed). */
    private static FloatBuffer scaled(FloatBuffer f, float[] kScale, long r0, int n, long cols, boolean transposed) {
        if (kScale == null) {
            return f;
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < cols; j++) {
                int at = (int) (i * cols + j);
                f.put(at, f.get(at) * kScale[transposed ? j : (int) (r0 + i)]);
            }
        }
        return f;
    }

    /** Rows {@code r0 .. r0 + n} of a row-major float32 matrix with {@code cols} columns, read into {@code band}. */
    static FloatBuffer readBand(TensorBytes source, ByteBuffer band, long r0, int n, long cols) {
        band.clear().limit(Math.toIntExact(n * cols * 4));
        source.read(r0 * cols * 4, band);
        band.flip();
        return band.asFloatBuffer();
    }
}
