package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2 (upstream fp32 file from its Maven artifact) quantized to int8 and compared, on the
 * built-in sentences, with the fp32 model and with Xenova's int8 file ({@code -q} artifact), all measured in this run.
 */
class MiniLmQuantizeTest {
    static final long XENOVA_BYTES = 22_972_370;

    @TempDir
    static Path tmp;
    static Path fp32;
    static Path xenova;

    @BeforeAll
    static void extract() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("minilm"));
        fp32 = copy("/all-minilm-l6-v2.onnx", dir.resolve("all-minilm-l6-v2.onnx"));
        copy("/all-minilm-l6-v2-tokenizer.json", dir.resolve("tokenizer.json"));
        xenova = copy("/all-minilm-l6-v2-q.onnx", Files.createDirectories(tmp.resolve("xenova")).resolve("q.onnx"));
    }

    static Path copy(String resource, Path to) throws IOException {
        try (InputStream in = MiniLmQuantizeTest.class.getResourceAsStream(resource)) {
            Files.copy(in, to);
        }
        return to;
    }

    /**
     * The default int8 (smoothing on, embeddings quantized, 7-bit weights: the rules for encoders) reaches the
     * default 0.995 gate at no more bytes than Xenova's file, and beats it on mean and worst sentence. Latency is
     * {@code bench.EncoderLatency}'s (README), not timed here.
     */
    @Test
    void defaultInt8PassesTheGateAtXenovasSize() {
        QuantizeOptions options = QuantizeOptions.defaults();
        QuantizeResult r = Quantizer.quantize(fp32, tmp.resolve("int8"), options);
        QualityFigures ours = r.quality().get(0);
        QualityFigures theirs = new QualityGate(options).compare(fp32, xenova, fp32.getParent());
        System.out.printf("all-MiniLM-L6-v2 int8: ours %s%n  Xenova's %s%n  bytes %d (Xenova %d)%n", ours.summary(),
                theirs.summary(), r.bytesAfter(), XENOVA_BYTES);
        assertEquals("encoder", ours.kind());
        assertEquals(16, ours.compared());
        assertTrue(ours.meanCosine() >= 0.995, "cosine " + ours.meanCosine());
        assertTrue(ours.meanCosine() > theirs.meanCosine(), "cosine " + ours.meanCosine() + " vs Xenova " + theirs.meanCosine());
        assertTrue(ours.minCosine() > theirs.minCosine(), "min cosine");
        assertTrue(r.bytesAfter() <= XENOVA_BYTES, "size " + r.bytesAfter());
        assertTrue(Files.isRegularFile(r.outputDir().resolve(QuantizeReport.FILE)));
        assertEquals(Map.of("Gather", 3, "MatMul", 36), r.quantizedNodes());
    }

    /** Without the smoothing the per-tensor activation range costs the 0.995: refused, nothing written. */
    @Test
    void withoutSmoothingTheGateRefuses() {
        QuantizeOptions options = QuantizeOptions.defaults().withSmoothAlpha(0);
        Path out = tmp.resolve("unsmoothed");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.stepwise.runtime.StepwiseException.class,
                () -> Quantizer.quantize(fp32, out, options));
        assertTrue(e.getMessage().contains("below the quality thresholds"), e.getMessage());
        assertTrue(!Files.exists(out));
    }

    @Test
    void perTensorIsRefusedByTheDefaultGateAndWritesNothing() {
        QuantizeOptions options = QuantizeOptions.defaults().withScheme(new Int8Scheme(false, true, false))
                .withSmoothAlpha(0);
        Path out = tmp.resolve("per-tensor");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.stepwise.runtime.StepwiseException.class,
                () -> Quantizer.quantize(fp32, out, options));
        assertTrue(e.getMessage().contains("below the quality thresholds"), e.getMessage());
        assertTrue(!Files.exists(out));
    }
}

