package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Int4BlockQuantizer against ONNX Runtime's own int4 quantizer (goldens from {@code tools/int4_goldens.py}, made with
 * onnxruntime's MatMulNBitsQuantizer): the same bytes for every case, and the Java-built MatMulNBits model runs in
 * ONNX Runtime Java to the output the Python tool's model gave.
 */
class Int4BlockQuantizerTest {
    @TempDir
    Path dir;

    @TestFactory
    Stream<DynamicTest> bytesEqualOnnxRuntimeQuantizer() {
        return Int4Golden.all().stream().map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4Weights q = new Int4BlockQuantizer(g.blockSize(), g.symmetric()).quantize(g.w(), g.k(), g.n());
            assertArrayEquals(g.bDims(), q.bDims(), "B dims");
            assertArrayEquals(g.b(), q.b(), "B");
            assertArrayEquals(g.scalesDims(), q.scalesDims(), "scales dims");
            assertArrayEquals(rawBits(g.scales()), rawBits(q.scales()), "scales (bits)");
            if (g.symmetric()) {
                assertNull(q.zeroPoints());
            } else {
                assertArrayEquals(g.zeroPointsDims(), q.zeroPointsDims(), "zero_points dims");
                assertArrayEquals(g.zeroPoints(), q.zeroPoints(), "zero_points");
            }
        }));
    }

    /** The streaming form, in two column ranges into direct buffers, writes the same bytes. */
    @TestFactory
    Stream<DynamicTest> streamedColumnsEqualGoldens() {
        return Int4Golden.all().stream().map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4BlockQuantizer quantizer = new Int4BlockQuantizer(g.blockSize(), g.symmetric());
            ByteBuffer b = ByteBuffer.allocateDirect(g.b().length);
            ByteBuffer scales = ByteBuffer.allocateDirect(g.scales().length * 4);
            ByteBuffer zp = g.symmetric() ? null : ByteBuffer.allocateDirect(g.zeroPoints().length);
            FloatBuffer w = ByteBuffer.allocateDirect(g.w().length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer()
                    .put(g.w()).flip();
            int split = g.n() / 2;
            quantizer.quantizeColumns(w, g.k(), g.n(), 0, split, b, scales, zp);
            quantizer.quantizeColumns(w, g.k(), g.n(), split, g.n(), b, scales, zp);
            assertEquals(0, b.remaining() + scales.remaining() + (zp == null ? 0 : zp.remaining()), "all written");
            assertArrayEquals(g.b(), bytes(b), "B");
            float[] s = new float[g.scales().length];
            scales.flip().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(s);
            assertArrayEquals(rawBits(g.scales()), rawBits(s), "scales (bits)");
            if (zp != null) {
                assertArrayEquals(g.zeroPoints(), bytes(zp), "zero_points");
            }
        }));
    }

    /**
     * Rounding to nearest puts each element within half a step of its block's scale, except where ORT's rule clips:
     * symmetric maps the larger-magnitude side to -8, so the other side's extreme may sit a whole step away. The
     * extreme cases are left out: there scales underflow to 0 or to subnormals that lose precision.
     */
    @TestFactory
    Stream<DynamicTest> dequantizeWithinHalfAStep() {
        return Int4Golden.all().stream().filter(g -> !g.name().contains("extreme"))
                .map(g -> DynamicTest.dynamicTest(g.name(), () -> {
                    Int4Weights q = new Int4BlockQuantizer(g.blockSize(), g.symmetric()).quantize(g.w(), g.k(), g.n());
                    float[] deq = Int4BlockQuantizer.dequantize(q);
                    for (int r = 0; r < g.k(); r++) {
                        for (int c = 0; c < g.n(); c++) {
                            double step = Math.abs(q.scales()[c * q.blocks() + r / g.blockSize()]);
                            double err = Math.abs(deq[r * g.n() + c] - g.w()[r * g.n() + c]);
                            boolean clipped = g.symmetric() && err > step * (0.5 + 1e-5);
                            assertTrue(err <= step * ((clipped ? 1.0 : 0.5) + 1e-5),
                                    "[" + r + ", " + c + "]: |error| " + err + " > step " + step);
                        }
                    }
                }));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 8, 15, 24, 48, 100, 512, -32})
    void rejectsUnsupportedBlockSizes(int blockSize) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> new Int4BlockQuantizer(blockSize, true));
        assertEquals("int4 block size " + blockSize + " is not supported: use a power of two from 16 to 256"
                + " (16, 32, 64, 128, 256)", e.getMessage());
    }

    @Test
    void acceptsEveryMatMulNBitsBlockSize() {
        for (int bs = 16; bs <= 256; bs *= 2) {
            assertEquals(bs, new Int4BlockQuantizer(bs, false).blockSize());
        }
    }

    @Test
    void rejectsNonFiniteWeights() {
        float[] w = new float[32 * 2];
        w[2 * 5 + 1] = Float.NaN;
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> new Int4BlockQuantizer(32, true).quantize(w, 32, 2));
        assertEquals("int4 quantization: weight element [5, 1] is NaN; only finite weights can be quantized",
                e.getMessage());
    }

    /**
     * The Java-built one-node MatMulNBits model, run by ONNX Runtime Java, gives the Python tool's model's output
     * (relative 1e-4 of the largest |Y|: the same kernel, possibly another ORT version), and X·dequantize(W) within
     * the error of accuracy_level 4, which quantizes each K-block of X to int8 (max |x| / 127, so at most half of
     * that per element, times the block's Σ|w|).
     */
    @TestFactory
    Stream<DynamicTest> javaBuiltModelRunsInOnnxRuntime() {
        return Int4Golden.all().stream().filter(Int4Golden::runnable).map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Int4Weights q = new Int4BlockQuantizer(g.blockSize(), g.symmetric()).quantize(g.w(), g.k(), g.n());
            Path file = MatMulNBitsModel.write(q, g.m(), dir.resolve(g.name()));
            float[] y;
            try (OrtSession session = OrtSessions.open(file, 1)) {
                Map<String, HostTensor> out = OrtRunner.run(session,
                        Map.of(MatMulNBitsModel.INPUT, HostTensor.ofFloats(g.x(), g.m(), g.k())));
                y = out.get(MatMulNBitsModel.OUTPUT).floats();
            }
            assertEquals(g.y().length, y.length);
            double maxAbs = 0;
            for (float v : g.y()) {
                maxAbs = Math.max(maxAbs, Math.abs(v));
            }
            float[] deq = Int4BlockQuantizer.dequantize(q);
            for (int i = 0; i < g.m(); i++) {
                for (int j = 0; j < g.n(); j++) {
                    float got = y[i * g.n() + j];
                    assertEquals(g.y()[i * g.n() + j], got, 1e-4 * maxAbs + 1e-6, "Y[" + i + ", " + j + "] vs golden");
                    double exact = 0;
                    double bound = 0;
                    for (int blk = 0; blk < q.blocks(); blk++) {
                        double xMax = 0;
                        double wSum = 0;
                        for (int r = blk * g.blockSize(); r < Math.min(g.k(), (blk + 1) * g.blockSize()); r++) {
                            exact += (double) g.x()[i * g.k() + r] * deq[r * g.n() + j];
                            xMax = Math.max(xMax, Math.abs(g.x()[i * g.k() + r]));
                            wSum += Math.abs(deq[r * g.n() + j]);
                        }
                        bound += xMax / 127 / 2 * wSum;
                    }
                    assertEquals(exact, got, bound * 1.01 + 1e-4 * maxAbs, "Y[" + i + ", " + j + "] vs X·deq(W)");
                }
            }
        }));
    }

    private static int[] rawBits(float[] f) {
        int[] bits = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            bits[i] = Float.floatToRawIntBits(f[i]);
        }
        return bits;
    }

    private static byte[] bytes(ByteBuffer written) {
        byte[] out = new byte[written.flip().remaining()];
        written.get(out);
        return out;
    }
}
