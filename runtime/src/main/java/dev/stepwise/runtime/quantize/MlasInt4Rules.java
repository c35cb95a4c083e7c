package dev.stepwise.runtime.quantize;

/**
 * The float arithmetic of ONNX Runtime's MLAS block quantizer ({@code BlockwiseQuantizer} in {@code q4_dq.cpp}) for
 * 4-bit unsigned values, operation for operation in float, so results match it bit for bit. Kept apart from the
 * layout code so each rule can be read against the reference.
 */
final class MlasInt4Rules {
    static final int SYMMETRIC_ZERO_POINT = 8;
    private static final float MAX_Q = 15f;

    private MlasInt4Rules() {
    }

    /**
     * Symmetric scale of a block whose range is [min, max]: the value of larger magnitude (min on a tie) over -8,
     * so that value maps to 0 (= -8 + 8) and the other side gets the 7 steps. Negative for a block whose largest
     * magnitude is positive; -0.0 for a block of +0.0.
     */
    static float symmetricScale(float min, float max) {
        float m = Math.abs(max) > Math.abs(min) ? max : min;
        return -m / 8f;
    }

    /** Asymmetric scale: the range widened to include 0 (as std::min / std::max do, signed zeros included), over 15. */
    static float asymmetricScale(float min, float max) {
        return (widenedMax(max) - widenedMin(min)) / MAX_Q;
    }

    /** Asymmetric zero point of a block with that range and {@link #asymmetricScale scale}, clamped to [0, 15]. */
    static int zeroPoint(float min, float scale) {
        float lo = widenedMin(min);
        float zp = scale != 0f ? 0f - lo / scale : lo;
        if (zp < 0f) {
            return 0;
        }
        if (zp > MAX_Q) {
            return 15;
        }
        return (int) roundf(zp);
    }

    /** One element: {@code clamp(roundf(v * (1 / scale) + zp), 0, 15)}, with 1 / 0 taken as 0. */
    static int quantize(float v, float scale, int zeroPoint) {
        float reciprocal = scale != 0f ? 1f / scale : 0f;
        float q = roundf(v * reciprocal + zeroPoint);
        // std::clamp keeps NaN (0 * inf from a subnormal scale); the cast then gives 0 on x86, as Java's (int) does
        q = q < 0f ? 0f : (MAX_Q < q ? MAX_Q : q);
        return (int) q;
    }

    /** The dequantized value: {@code (q - zp) * scale}, the int difference first. */
    static float dequantize(int q, int zeroPoint, float scale) {
        return (q - zeroPoint) * scale;
    }

    /** C's roundf: half away from zero (Math.round rounds -2.5 to -2; roundf gives -3). */
    static float roundf(float x) {
        float a = Math.abs(x);
        if (!(a < 8388608f)) { // 2^23 and above are integers already; NaN and infinities stay as they are
            return x;
        }
        // a + 0.5 is exact in double for such a, so floor gives the true half-away rounding of a
        return Math.copySign((float) Math.floor(a + 0.5d), x);
    }

    // std::min(min, 0.0f) is (0 < min ? 0 : min) and std::max(max, 0.0f) is (max < 0 ? 0 : max): -0.0 stays -0.0
    private static float widenedMin(float min) {
        return 0f < min ? 0f : min;
    }

    private static float widenedMax(float max) {
        return max < 0f ? 0f : max;
    }
}
