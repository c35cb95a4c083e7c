package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming int4 quantizer writes, band by band into a shared weights file, the bytes ONNX Runtime's quantizer
 * makes for the whole matrix (the goldens), whether the weight is stored [K, N] (bands of block pairs along K) or
 * transposed [N, K] (bands of whole columns), with bands small enough that every golden takes several; embedding
 * tables for GatherBlockQuantized equal the in-memory quantizer's.
 */
class Int4WeightQuantizerTest {
    /** Small enough that every golden matrix is cut into several bands. */
    static final int BAND_BYTES = 512;

    @TempDir
    Path dir;

    @TestFactory
    Stream<DynamicTest> bandsEqualTheGoldens() {
        return Int4Golden.all().stream().flatMap(g -> Stream.of(false, true).map(transposed ->
                DynamicTest.dynamicTest(g.name() + (transposed ? " stored [N, K]" : " stored [K, N]"), () -> {
                    float[] stored = transposed ? transpose(g.w(), g.k(), g.n()) : g.w();
                    Path file = dir.resolve(g.name().replaceAll("\\W", "_") + transposed + ".data");
                    Int4WeightQuantizer.Stored s;
                    try (SharedExternalData out = new SharedExternalData(file, Long.MAX_VALUE)) {
                        s = new Int4WeightQuantizer(new Int4Scheme(g.blockSize(), g.symmetric(), 4, true), BAND_BYTES)
                                .matMul("W", source(stored), transposed ? g.n() : g.k(), transposed ? g.k() : g.n(),
                                        transposed, out);
                    }
                    assertArrayEquals(g.bDims(), dims(s.data()), "B dims");
                    assertArrayEquals(g.b(), read(file, s.data()), "B");
                    assertArrayEquals(g.scalesDims(), dims(s.scales()), "scales dims");
                    assertArrayEquals(littleEndian(g.scales()), read(file, s.scales()), "scales (bits)");
                    if (g.symmetric()) {
                        assertNull(s.zeroPoints());
                    } else {
                        assertArrayEquals(g.zeroPoints(), read(file, s.zeroPoints()), "zero_points");
                    }
                })));
    }

    @Test
    void embeddingBandsEqualTheWholeTable() throws IOException {
        int rows = 37;
        int cols = 80; // blocks of 32, the last short
        float[] e = new float[rows * cols];
        Random random = new Random(3);
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) random.nextGaussian();
        }
        for (boolean symmetric : new boolean[] {true, false}) {
            Int4GatherWeights whole = new Int4GatherQuantizer(32, symmetric).quantize(e, rows, cols);
            Path file = dir.resolve("table-" + symmetric + ".data");
            Int4WeightQuantizer.Stored s;
            try (SharedExternalData out = new SharedExternalData(file, Long.MAX_VALUE)) {
                s = new Int4WeightQuantizer(new Int4Scheme(32, symmetric, 4, true), 4 * cols * 5).gather("E", source(e), rows,
                        cols, out);
            }
            assertEquals(symmetric ? Int4WeightQuantizer.INT4 : Int4WeightQuantizer.UINT4, s.data().getDataType());
            assertArrayEquals(whole.data(), read(file, s.data()), "data");
            assertArrayEquals(littleEndian(whole.scales()), read(file, s.scales()), "scales");
            if (!symmetric) {
                assertArrayEquals(whole.zeroPoints(), read(file, s.zeroPoints()), "zero points");
            }
        }
    }

    private static TensorBytes source(float[] w) {
        return TensorBytes.of(ByteBuffer.wrap(littleEndian(w)));
    }

    private static float[] transpose(float[] w, int k, int n) {
        float[] t = new float[w.length];
        for (int r = 0; r < k; r++) {
            for (int c = 0; c < n; c++) {
                t[c * k + r] = w[r * n + c];
            }
        }
        return t;
    }

    private static byte[] littleEndian(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b.array();
    }

    private static long[] dims(TensorProto t) {
        return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    }

    private static byte[] read(Path file, TensorProto t) throws IOException {
        long offset = 0;
        long length = 0;
        for (var e : t.getExternalDataList()) {
            if (e.getKey().equals("offset")) {
                offset = Long.parseLong(e.getValue());
            } else if (e.getKey().equals("length")) {
                length = Long.parseLong(e.getValue());
            }
        }
        byte[] all = Files.readAllBytes(file);
        return java.util.Arrays.copyOfRange(all, (int) offset, (int) (offset + length));
    }
}
