package dev.stepwise.runtime.quantize;

/**
 * The QuantizeLinear parameters of one activation: unsigned 8-bit, asymmetric, over a calibrated {@code [min, max]}.
 * uint8 asymmetric activations (with int8 symmetric per-channel weights) is what ONNX Runtime's {@code
 * quantize_static} writes by default (QUInt8 activations, QInt8 weights) and what NPU toolchains take: Qualcomm QNN's
 * HTP and OpenVINO's NPU quantize activations asymmetric 8-bit (post-ReLU/SiLU activations are lopsided, so a zero
 * point buys a bit), and their weights symmetric per output channel (zero point 0, so the integer matmul needs no
 * weight-offset correction).
 *
 * <p>The arithmetic is {@code quant_utils.compute_scale_zp} of ONNX Runtime's quantizer, operation for operation: the
 * range is widened to include 0 in float32, {@code rmax - rmin} is taken in float32 and divided by 255 in double; a
 * scale below float32's smallest normal becomes 1 with zero point 0; otherwise the zero point is {@code round(0 -
 * rmin / scale)} in double (half to even, as numpy rounds) and the scale is then stored as float32.
 */
record ActivationQuant(float scale, int zeroPoint) {
    static final int QMIN = 0;
    static final int QMAX = 255;

    static ActivationQuant of(float min, float max) {
        float rmin = Math.min(min, 0f);
        float rmax = Math.max(max, 0f);
        double dr = (double) (rmax - rmin);
        double scale = dr / ((double) QMAX - QMIN);
        if (scale < Float.MIN_NORMAL) {
            return new ActivationQuant(1f, 0);
        }
        double zp = Math.rint(QMIN - rmin / scale);
        return new ActivationQuant((float) scale, (int) Math.max(QMIN, Math.min(QMAX, zp)));
    }
}
