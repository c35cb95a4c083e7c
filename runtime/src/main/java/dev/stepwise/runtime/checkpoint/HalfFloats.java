package dev.stepwise.runtime.checkpoint;

import dev.stepwise.runtime.StepwiseException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * Conversions between float32 and the two 16-bit float formats of checkpoints. Written out by hand because
 * {@code Float.float16ToFloat} only arrived in Java 20. Narrowing rounds to nearest, ties to even, like PyTorch's
 * {@code .half()} / {@code .bfloat16()}.
 */
public final class HalfFloats {
    private HalfFloats() {
    }

    /** IEEE 754 binary16 bits → float; exact for every input (subnormals, ±0, ±inf, NaN payloads kept). */
    public static float f16ToFloat(short half) {
        int bits = half & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            // Zero or subnormal: mantissa × 2^-24 is exact in float32.
            float magnitude = mantissa * 0x1p-24f;
            return sign != 0 ? -magnitude : magnitude;
        }
        // Rebias the exponent from 15 to 127.
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    /** float → binary16 bits, round to nearest even; too large → ±inf, too small → ±0, NaN stays a (quiet) NaN. */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xff;
        int mantissa = bits & 0x7fffff;
        if (exponent == 0xff) {
            return (short) (sign | 0x7c00 | (mantissa != 0 ? 0x200 | (mantissa >>> 13) : 0));
        }
        int halfExponent = exponent - 127 + 15;
        if (halfExponent >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (halfExponent <= 0) {
            // Result is subnormal (or zero): shift the full 24-bit significand down to units of 2^-24.
            int shift = 14 - halfExponent;
            if (shift > 24) {
                return (short) sign;
            }
            int significand = mantissa | 0x800000;
            int result = significand >>> shift;
            int remainder = significand & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (remainder > halfway || (remainder == halfway && (result & 1) != 0)) {
                result++; // may carry into the smallest normal, whose encoding follows on directly
            }
            return (short) (sign | result);
        }
        int result = (halfExponent << 10) | (mantissa >>> 13);
        int remainder = mantissa & 0x1fff;
        if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1) != 0)) {
            result++; // a carry into the exponent is correct, up to and including infinity
        }
        return (short) (sign | result);
    }

    /** bfloat16 bits → float: the top half of a float32, so always exact. */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xffff) << 16);
    }

    /** float → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN instead of rounding into infinity. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * Widens little-endian 16-bit floats (binary16, or bfloat16 when {@code bf16}) from {@code halves}' position to its
     * limit into a new direct little-endian float32 buffer, positioned at 0. The caller checks that 2 × the input size
     * fits one buffer.
     */
    public static ByteBuffer widenToFloat32(ByteBuffer halves, boolean bf16) {
        ShortBuffer in = halves.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        ByteBuffer out = ByteBuffer.allocateDirect(Math.multiplyExact(in.remaining(), 4)).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer outFloats = out.asFloatBuffer();
        // Convert through small heap arrays: bulk get/put is much faster than element-wise access to direct buffers.
        short[] shorts = new short[Math.min(in.remaining(), 1 << 16)];
        float[] floats = new float[shorts.length];
        while (in.hasRemaining()) {
            int n = Math.min(in.remaining(), shorts.length);
            in.get(shorts, 0, n);
            for (int i = 0; i < n; i++) {
                floats[i] = bf16 ? bf16ToFloat(shorts[i]) : f16ToFloat(shorts[i]);
            }
            outFloats.put(floats, 0, n);
        }
        return out;
    }

    /**
     * Narrows little-endian float32 values (from {@code floats}' position to its limit) to binary16, round to nearest
     * even, into a new direct little-endian buffer positioned at 0. A finite value beyond binary16's range (±65504)
     * is an {@link ArithmeticException} naming it, rather than a silent infinity.
     */
    public static ByteBuffer narrowToFloat16(ByteBuffer floats) {
        FloatBuffer in = floats.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        ByteBuffer out = ByteBuffer.allocateDirect(Math.multiplyExact(in.remaining(), 2)).order(ByteOrder.LITTLE_ENDIAN);
        ShortBuffer outShorts = out.asShortBuffer();
        float[] values = new float[Math.min(in.remaining(), 1 << 16)];
        short[] halves = new short[values.length];
        long done = 0;
        while (in.hasRemaining()) {
            int n = Math.min(in.remaining(), values.length);
            in.get(values, 0, n);
            for (int i = 0; i < n; i++) {
                halves[i] = floatToF16(values[i]);
                if ((halves[i] & 0x7fff) == 0x7c00 && !Float.isInfinite(values[i])) {
                    throw new ArithmeticException("element " + (done + i) + " (" + values[i]
                            + ") is beyond the float16 range of +-65504");
                }
            }
            outShorts.put(halves, 0, n);
            done += n;
        }
        return out;
    }

    /**
     * {@link TensorFile#float32}'s conversion, for both file formats: the stored bytes ({@code raw}) themselves for
     * F32, widened to a new direct buffer for F16 and BF16, an error for any other type. Errors name {@code file} and
     * the tensor as {@code shownName}.
     */
    public static ByteBuffer float32(Path file, String shownName, SafetensorsDtype dtype, long elementCount,
                                     Supplier<ByteBuffer> raw) {
        switch (dtype) {
            case F32:
                return raw.get();
            case F16:
            case BF16:
                if (elementCount * 4 > Integer.MAX_VALUE) {
                    throw new StepwiseException(file + ": tensor '" + shownName + "' has " + elementCount
                            + " elements; as float32 that is over 2 GiB, more than one buffer can hold");
                }
                return widenToFloat32(raw.get(), dtype == SafetensorsDtype.BF16);
            default:
                throw new StepwiseException(file + ": tensor '" + shownName + "' is " + dtype
                        + "; only F32, F16 and BF16 tensors can be read as float32");
        }
    }
}
