package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    /** binary16 by its definition: sign × 2^(e−15) × 1.m, or sign × 2^−14 × 0.m for subnormals. */
    static double f16ByDefinition(int bits) {
        double sign = (bits & 0x8000) != 0 ? -1 : 1;
        int e = (bits >>> 10) & 0x1f;
        int m = bits & 0x3ff;
        if (e == 0x1f) {
            return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        if (e == 0) {
            return sign * (m / 1024.0) * Math.pow(2, -14);
        }
        return sign * (1 + m / 1024.0) * Math.pow(2, e - 15);
    }

    @Test
    void widensEveryHalfExactly() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float widened = HalfFloats.f16ToFloat((short) bits);
            double expected = f16ByDefinition(bits);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(widened), Integer.toHexString(bits));
            } else {
                assertEquals(expected, widened, 0, Integer.toHexString(bits));
                // signed zero must survive
                assertEquals(bits == 0x8000, Float.floatToRawIntBits(widened) == 0x80000000, Integer.toHexString(bits));
            }
        }
    }

    @Test
    void knownHalves() {
        assertEquals(1.0f, HalfFloats.f16ToFloat((short) 0x3c00));
        assertEquals(-2.0f, HalfFloats.f16ToFloat((short) 0xc000));
        assertEquals(65504f, HalfFloats.f16ToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, HalfFloats.f16ToFloat((short) 0x0001)); // smallest subnormal
        assertEquals(1023 * 0x1p-24f, HalfFloats.f16ToFloat((short) 0x03ff)); // largest subnormal
        assertEquals(0x1p-14f, HalfFloats.f16ToFloat((short) 0x0400)); // smallest normal
        assertEquals(Float.POSITIVE_INFINITY, HalfFloats.f16ToFloat((short) 0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.f16ToFloat((short) 0xfc00));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat((short) 0x7e00)));
    }

    @Test
    void narrowingInvertsWideningForEveryHalf() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.f16ToFloat((short) bits);
            short back = HalfFloats.floatToF16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.f16ToFloat(back)), Integer.toHexString(bits));
            } else {
                assertEquals(bits, back & 0xffff, Integer.toHexString(bits));
            }
        }
    }

    @Test
    void narrowingToHalfRoundsToNearestEven() {
        assertEquals(0x3c00, HalfFloats.floatToF16(1 + 0x1p-11f) & 0xffff); // tie, 1.0 is even
        assertEquals(0x3c02, HalfFloats.floatToF16(1 + 3 * 0x1p-11f) & 0xffff); // tie, rounds up to even
        assertEquals(0x3c01, HalfFloats.floatToF16(1 + 0x1p-11f + 0x1p-20f) & 0xffff); // above the tie
        assertEquals(0x7bff, HalfFloats.floatToF16(65519f) & 0xffff); // below the rounding point to infinity
        assertEquals(0x7c00, HalfFloats.floatToF16(65520f) & 0xffff);
        assertEquals(0xfc00, HalfFloats.floatToF16(-1e9f) & 0xffff);
        assertEquals(0x0000, HalfFloats.floatToF16(0x1p-25f) & 0xffff); // tie between 0 and the smallest subnormal
        assertEquals(0x0001, HalfFloats.floatToF16(0x1.8p-25f) & 0xffff);
        assertEquals(0x0400, HalfFloats.floatToF16(0x1.ffcp-15f) & 0xffff); // largest subnormal + ½ ulp rounds to normal
        assertEquals(0x8000, HalfFloats.floatToF16(-1e-30f) & 0xffff);
        assertEquals(0x7c00, HalfFloats.floatToF16(Float.POSITIVE_INFINITY) & 0xffff);
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.NaN))));
    }

    @Test
    void bfloat16() {
        assertEquals(1.0f, HalfFloats.bf16ToFloat((short) 0x3f80));
        assertEquals(-2.0f, HalfFloats.bf16ToFloat((short) 0xc000));
        assertEquals(0x3f80, HalfFloats.floatToBf16(1.0f) & 0xffff);
        assertEquals(0x3f80, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3f808000)) & 0xffff); // tie to even
        assertEquals(0x3f82, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3f818000)) & 0xffff); // tie to even, up
        assertEquals(0x3f81, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3f808001)) & 0xffff);
        assertEquals(0x7f80, HalfFloats.floatToBf16(Float.MAX_VALUE) & 0xffff); // rounds to infinity
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x7fffffff)))));
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.bf16ToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertEquals(bits, HalfFloats.floatToBf16(f) & 0xffff, Integer.toHexString(bits));
            }
        }
    }
}
