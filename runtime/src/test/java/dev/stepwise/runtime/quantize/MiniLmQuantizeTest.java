package dev.stepwise.runtime.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
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

    @Test
    void int8MatchesFp32BetterThanXenovaAtItsSize() {
        QuantizeOptions options = QuantizeOptions.defaults().withEmbeddings(true).withThresholds(0.98, 0.02, 0.99);
        QuantizeResult r = Quantizer.quantize(fp32, tmp.resolve("int8"), options);
        QualityFigures ours = r.quality().get(0);
        QualityFigures theirs = new QualityGate(options).compare(fp32, xenova, fp32.getParent());
        System.out.printf("all-MiniLM-L6-v2 int8: ours %s%n  Xenova's %s%n  bytes %d (Xenova %d)%n", ours.summary(),
                theirs.summary(), r.bytesAfter(), XENOVA_BYTES);
        assertEquals("encoder", ours.kind());
        assertEquals(16, ours.compared());
        assertTrue(ours.meanCosine() > theirs.meanCosine(), "cosine " + ours.meanCosine() + " vs Xenova " + theirs.meanCosine());
        assertTrue(ours.minCosine() > theirs.minCosine(), "min cosine");
        assertTrue(r.bytesAfter() <= XENOVA_BYTES, "size " + r.bytesAfter());
        assertTrue(Files.isRegularFile(r.outputDir().resolve(QuantizeReport.FILE)));
        assertEquals(Map.of("Gather", 3, "MatMul", 36), r.quantizedNodes());
        latency(List.of(fp32, r.models().get(0), xenova));
    }

    /** The FFN down projections (the layers whose input, after GELU, quantizes worst) kept float: above 0.995. */
    @Test
    void keepingTheFfnOutputsFloatPassesTheDefaultGate() {
        QuantizeOptions options = QuantizeOptions.defaults().withEmbeddings(true)
                .withKeepFloat(Pattern.compile("layer\\.\\d+/output/dense"));
        QuantizeResult r = Quantizer.quantize(fp32, tmp.resolve("int8-keep"), options);
        System.out.printf("all-MiniLM-L6-v2 int8, FFN outputs float: %s, %d bytes%n", r.quality().get(0).summary(),
                r.bytesAfter());
        assertTrue(r.quality().get(0).meanCosine() >= 0.995);
    }

    @Test
    void perTensorIsRefusedByTheDefaultGateAndWritesNothing() {
        QuantizeOptions options = QuantizeOptions.defaults().withScheme(new Int8Scheme(false, true, false));
        Path out = tmp.resolve("per-tensor");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.stepwise.runtime.StepwiseException.class,
                () -> Quantizer.quantize(fp32, out, options));
        assertTrue(e.getMessage().contains("below the quality thresholds"), e.getMessage());
        assertTrue(!Files.exists(out));
    }

    /** Median ms of one pass over the built-in sentences, batch 1, 2 threads (printed; speed is not asserted). */
    static void latency(List<Path> models) {
        List<long[]> rows = new ArrayList<>();
        try (TextTokenizer t = TextTokenizer.open(fp32.getParent())) {
            EvalInputs.SENTENCES.forEach(s -> rows.add(t.encode(s)));
        }
        StringBuilder sb = new StringBuilder("latency, 16 sentences, 2 threads, median of 15:");
        for (Path m : models) {
            try (OrtSession s = OrtSessions.open(m, 2)) {
                List<Double> times = new ArrayList<>();
                for (int rep = 0; rep < 18; rep++) {
                    long t0 = System.nanoTime();
                    for (long[] r : rows) {
                        OrtRunner.run(s, Map.of("input_ids", HostTensor.ofLongs(r, 1, r.length),
                                "attention_mask", HostTensor.ofLongs(ones(r.length), 1, r.length),
                                "token_type_ids", HostTensor.ofLongs(new long[r.length], 1, r.length)));
                    }
                    if (rep >= 3) {
                        times.add((System.nanoTime() - t0) / 1e6);
                    }
                }
                times.sort(Double::compare);
                sb.append(String.format(" %s %.1f ms;", m.getFileName(), times.get(times.size() / 2)));
            } catch (OrtException e) {
                throw new IllegalStateException(e);
            }
        }
        System.out.println(sb);
    }

    static long[] ones(int n) {
        long[] o = new long[n];
        java.util.Arrays.fill(o, 1);
        return o;
    }
}
