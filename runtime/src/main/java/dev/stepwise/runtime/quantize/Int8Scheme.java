package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;

/**
 * How int8 weights are formed, with ONNX Runtime's quantizer's rules ({@code quant_utils.compute_scale_zp} and
 * {@code quantize_nparray}): the range always includes 0; signed symmetric maps {@code [-m, m]} (m = max |w|) onto
 * {@code [-127, 127]} with zero point 0; unsigned asymmetric maps {@code [min, max]} onto {@code [0, 255]} with a
 * rounded zero point; {@code reduceRange} uses 7 bits ({@code [-64, 64]}, {@code [0, 127]}). The scale is computed in
 * double and stored as float; {@code w / scale} is computed in float and rounded half to even, as numpy does.
 *
 * <p>Why 7 bits: on x86 CPUs with AVX2 but without VNNI, ONNX Runtime's u8×s8 kernels multiply with
 * {@code vpmaddubsw}, which adds two adjacent u8×s8 products into a saturating int16: 255 × 127 × 2 = 64770 overflows
 * 32767, so a pair of large activations and weights is clipped. With weights in [-64, 64] the sum stays below 32767
 * (255 × 64 × 2 = 32640). CPUs with VNNI (vpdpbusd accumulates in int32) and the u8×u8 kernels do not saturate, so
 * there full 8-bit weights are exact and more precise.
 *
 * @param perChannel  a scale (and zero point) per output channel of each weight, rather than one per weight tensor
 * @param symmetric   int8 with zero point 0 over {@code [-m, m]}, rather than uint8 with a zero point over
 *                    {@code [min, max]}
 * @param reduceRange 7-bit weights (the default; see above), safe on AVX2 CPUs without VNNI
 */
public record Int8Scheme(boolean perChannel, boolean symmetric, boolean reduceRange) {
    /**
     * Per-channel symmetric int8 in 7 bits: the same file then gives the same figures on every CPU (a file quantized on
     * a VNNI machine would otherwise lose accuracy where it is deployed without VNNI).
     */
    public static final Int8Scheme DEFAULT = new Int8Scheme(true, true, true);

    /**
     * The ONNX element type of the weights.
     *
     * @return {@code TensorProto.DataType.INT8} for symmetric, {@code UINT8} for asymmetric
     */
    public int elemType() {
        return symmetric ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.UINT8_VALUE;
    }

    /**
     * The least quantized value.
     *
     * @return -127 (symmetric), -64 (symmetric, 7-bit) or 0 (asymmetric)
     */
    public int qmin() {
        return symmetric ? (reduceRange ? -64 : -127) : 0;
    }

    /**
     * The largest quantized value.
     *
     * @return 127 (symmetric), 64 (symmetric, 7-bit), 255 (asymmetric) or 127 (asymmetric, 7-bit)
     */
    public int qmax() {
        return symmetric ? (reduceRange ? 64 : 127) : (reduceRange ? 127 : 255);
    }

    /**
     * The scale for values in {@code [min, max]} (the range widened to include 0).
     *
     * @param min the least value
     * @param max the largest value
     * @return the quantization step; 1 when the range is empty (all zeros), as ONNX Runtime does
     */
    public float scale(float min, float max) {
        double lo = Math.min(min, 0f);
        double hi = Math.max(max, 0f);
        if (symmetric) {
            double m = Math.max(Math.abs(lo), Math.abs(hi));
            lo = -m;
            hi = m;
        }
        double scale = (hi - lo) / ((double) qmax() - qmin());
        return scale < Float.MIN_NORMAL ? 1f : (float) scale;
    }

    /**
     * The zero point for values in {@code [min, max]}.
     *
     * @param min   the least value
     * @param max   the largest value
     * @param scale the scale from {@link #scale}; the zero point is recomputed from the range, as ONNX Runtime does
     * @return the quantized value that stands for 0; 0 for symmetric
     */
    public int zeroPoint(float min, float max, float scale) {
        if (symmetric) {
            return 0;
        }
        double lo = Math.min(min, 0f);
        double hi = Math.max(max, 0f);
        double range = hi - lo;
        if (range / ((double) qmax() - qmin()) < Float.MIN_NORMAL) {
            return 0;
        }
        return (int) Math.rint(qmin() - lo / (range / ((double) qmax() - qmin())));
    }

    /**
     * Quantizes one weight: {@code rint(w / scale) + zeroPoint}, clipped to {@code [qmin, qmax]}.
     *
     * @param w         the weight
     * @param scale     its tensor's or channel's scale
     * @param zeroPoint its tensor's or channel's zero point
     * @return the byte stored (two's complement for int8, the low 8 bits for uint8)
     */
    public byte quantize(float w, float scale, int zeroPoint) {
        float q = (float) Math.rint(w / scale) + zeroPoint;
        int clipped = (int) Math.max(qmin(), Math.min(qmax(), q));
        return (byte) clipped;
    }

    /**
     * A short name for reports.
     *
     * @return for example {@code per-channel symmetric int8} or {@code per-tensor asymmetric uint8 7-bit}
     */
    public String describe() {
        return (perChannel ? "per-channel" : "per-tensor") + (symmetric ? " symmetric int8" : " asymmetric uint8")
                + (reduceRange ? " 7-bit" : "");
    }
}
