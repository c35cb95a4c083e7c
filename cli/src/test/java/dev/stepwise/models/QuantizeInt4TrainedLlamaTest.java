package dev.stepwise.models;

import static dev.stepwise.models.QuantizeTrainedLlamaTest.assertOneLineError;
import static dev.stepwise.models.QuantizeTrainedLlamaTest.greedyBeforeAfter;
import static dev.stepwise.models.QuantizeTrainedLlamaTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.quantize.Int4Scheme;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * int4 weight-only quantization (MatMulNBits) of the trained LLaMA fixture: next-token agreement and KL on the
 * built-in evaluation set for block 32 symmetric (the default), asymmetric and block 128, against ONNX Runtime's own
 * MatMulNBitsQuantizer on the same export ({@code tools/int4_reference.py}); one shared weights file for the decoder
 * and its loop and search graphs; an unrolled folder stays static and generates; {@code export --quantize int4} end to
 * end; bad int4 options are usage errors.
 */
class QuantizeInt4TrainedLlamaTest {
    @TempDir
    static Path tmp;
    static Path exported;

    @BeforeAll
    static void export() {
        exported = QuantizeTrainedLlamaTest.exportWithSearchGraphs(tmp.resolve("export"));
    }

    static QualityFigures print(String label, QuantizeResult r) {
        QualityFigures decoder = r.quality().get(0);
        System.out.printf(Locale.ROOT, "pylm-llama-trained int4 %s: %s; %d -> %d bytes%n", label, decoder.summary(),
                r.bytesBefore(), r.bytesAfter());
        return decoder;
    }

    @Test
    void block32SymmetricKeepsTheNextTokenAndOneWeightsFile() throws IOException {
        QuantizeResult r = Quantizer.quantize(exported, tmp.resolve("int4"), QuantizeOptions.defaults(QuantizeMode.INT4));
        QualityFigures decoder = print("block 32 symmetric", r);
        assertEquals("decoder", decoder.kind());
        assertTrue(decoder.top1() >= 0.96, "top-1 " + decoder.top1());
        assertTrue(decoder.meanKl() <= 0.05, "KL " + decoder.meanKl());
        assertEquals(3, r.quality().size(), "model, loop and beam-search graphs, each loaded");

        Path out = r.outputDir();
        QuantizeTrainedLlamaTest.assertOneWeightsFile(out);
        for (String f : List.of("model.onnx", "model_loop.onnx", "model_beam_search.onnx")) {
            OnnxModelReader m = OnnxModelReader.load(out.resolve(f));
            assertTrue(m.model().getOpsetImportList().stream().anyMatch(o -> o.getDomain().equals("com.microsoft")
                    && o.getVersion() == 1), f + " imports com.microsoft 1");
        }
        Map<String, Integer> ops = OnnxModelReader.load(out.resolve("model.onnx")).opCounts();
        assertEquals(42, ops.get("com.microsoft.MatMulNBits"), "42 layer matrices: " + ops);
        assertEquals(1, ops.get("MatMulInteger"), "the untied head, int8 dynamic by default: " + ops);
        assertEquals(List.of(), floatWeightMatMuls(out.resolve("model.onnx")), "no MatMul left on a float weight");

        long floatData = Files.size(exported.resolve("model.onnx_data"));
        long int4Data = Files.size(out.resolve("model.onnx_data"));
        System.out.printf("weights file: fp32 %d -> int4 %d bytes (embedding %d bytes float)%n", floatData, int4Data,
                4096L * 256 * 4);
        // 4.5 bits per layer weight, 8 per head weight; the 4 MB float embedding stays
        assertTrue(int4Data < floatData * 0.33, int4Data + " vs " + floatData);

        JsonObject report = JsonParser.parseString(Files.readString(out.resolve("quantize-report.json"))).getAsJsonObject();
        assertEquals("int4", report.get("mode").getAsString());
        assertEquals(32, report.get("block_size").getAsInt());
        assertTrue(report.get("symmetric").getAsBoolean());
        assertEquals(42, report.getAsJsonObject("op_counts").getAsJsonObject("model.onnx").get("com.microsoft.MatMulNBits")
                .getAsInt());
        assertTrue(report.get("bytes_after").getAsLong() < report.get("bytes_before").getAsLong());

        try (ExportedModel f = ExportedModel.open(exported, 2); ExportedModel q = ExportedModel.open(out, 2);
             TextTokenizer tok = TextTokenizer.open(exported)) {
            int[] equal = greedyBeforeAfter("int4", f, q, tok, 24);
            assertTrue(equal[0] >= equal[1] * 0.5, equal[0] + "/" + equal[1]);
        }

        JsonObject reference = reference();
        double theirs = reference.get("top1_agreement").getAsDouble();
        System.out.printf(Locale.ROOT, "ONNX Runtime's MatMulNBitsQuantizer (block 32, symmetric, accuracy level 4): "
                + "top-1 %.4f, mean KL %.2e over %d positions; ours top-1 %.4f, mean KL %.2e%n", theirs,
                reference.get("mean_kl").getAsDouble(), reference.get("positions").getAsInt(), decoder.top1(),
                decoder.meanKl());
        assertEquals(reference.get("positions").getAsInt(), decoder.compared(), "the same evaluation positions");
        assertTrue(decoder.top1() >= theirs - 0.005, decoder.top1() + " vs ONNX Runtime's " + theirs);
    }

    @Test
    void asymmetricAndBlock128() {
        QualityFigures asymmetric = print("block 32 asymmetric", Quantizer.quantize(exported.resolve("model.onnx"),
                tmp.resolve("int4-asym"), QuantizeOptions.defaults(QuantizeMode.INT4).withInt4(new Int4Scheme(32, false, 4, false))));
        assertTrue(asymmetric.top1() >= 0.96, "top-1 " + asymmetric.top1());
        QualityFigures block128 = print("block 128 symmetric", Quantizer.quantize(exported.resolve("model.onnx"),
                tmp.resolve("int4-b128"), QuantizeOptions.defaults(QuantizeMode.INT4).withInt4(new Int4Scheme(128, true, 4, false))
                        .withThresholds(0.9, 0.1, 0.9)));
        assertTrue(block128.top1() >= 0.9, "top-1 " + block128.top1());
    }

    @Test
    void unrolledFolderStaysStaticWithOneWeightsFileAndGenerates() throws IOException {
        Path steps = Unroller.unroll(Fixtures.path("pylm-llama-trained"), tmp.resolve("steps"),
                UnrollOptions.of(3, 24, 8).withValidate(false)).outputDir();
        QuantizeResult r = Quantizer.quantize(steps, tmp.resolve("steps-int4"), QuantizeOptions.defaults(QuantizeMode.INT4));
        print("unrolled, block 32 symmetric (step 0)", r);
        Path out = r.outputDir();
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of(Unroller.WEIGHTS_FILE), files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".onnx_data")).toList());
        }
        for (int s = 0; s < 8; s++) {
            Path file = out.resolve("decoder_model-opt_gen_step=" + s + ".onnx");
            ModelProto model;
            try (InputStream in = Files.newInputStream(file)) {
                model = ModelProto.parseFrom(in);
            }
            UnrollTest.assertStatic(model, s);
            assertTrue(model.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("MatMulNBits")), file.toString());
            assertEquals(Set.of(Unroller.WEIGHTS_FILE), OnnxModelReader.load(file).externalFiles(), file.toString());
        }
        try (StepGraphs f = StepGraphs.open(steps, 2); StepGraphs q = StepGraphs.open(out, 2);
             TextTokenizer tok = TextTokenizer.open(Fixtures.path("pylm-llama-trained"))) {
            int[] equal = greedyBeforeAfter("int4 steps", f, q, tok, 8);
            assertTrue(equal[0] >= equal[1] * 0.5, equal[0] + "/" + equal[1]);
        }
    }

    @Test
    void exportQuantizeInt4EndToEnd() throws IOException {
        Path out = tmp.resolve("cli-int4");
        QuantizeTrainedLlamaTest.Outcome o = run("export", "--model", Fixtures.path("pylm-llama-trained").toString(),
                "--output", out.toString(), "--quantize", "int4", "--generation", "loop");
        assertEquals(0, o.status(), o.stderr());
        assertTrue(o.stderr().contains("validated"), "the float export is validated first: " + o.stderr());
        assertTrue(o.stderr().contains("top-1 agreement"), "then the quantized one is gated: " + o.stderr());
        assertEquals(42, OnnxModelReader.load(out.resolve("model.onnx")).opCounts().get("com.microsoft.MatMulNBits"));
        assertTrue(Files.isRegularFile(out.resolve("model_loop.onnx")));
        assertTrue(Files.isRegularFile(out.resolve("quantize-report.json")));
        try (ExportedModel q = ExportedModel.open(out, 2)) {
            assertFalse(new dev.stepwise.runtime.generate.Generator(q).greedy(List.of(new long[] {0, 100, 200}), 4)
                    .isEmpty());
        }
        try (Stream<Path> left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".cli-int4")), "no temporary folder left");
        }
    }

    @Test
    void badInt4OptionsAreUsageErrors() {
        String model = exported.toString();
        String out = tmp.resolve("bad-int4").toString();
        assertOneLineError(run("quantize", "--model", model, "--output", out, "--mode", "int4", "--block-size", "48"),
                2, "--block-size", "48");
        assertOneLineError(run("quantize", "--model", model, "--output", out, "--mode", "int4", "--accuracy-level", "9"),
                2, "--accuracy-level", "9");
        assertOneLineError(run("quantize", "--model", model, "--output", out, "--mode", "int4", "--per-tensor"),
                2, "--per-tensor");
        assertOneLineError(run("export", "--model", model, "--output", out, "--quantize", "int3"), 2, "--quantize", "int3");
        assertFalse(Files.exists(Path.of(out)));
    }

    /** MatMuls whose B is a float initializer, by name (none are expected). */
    private static List<String> floatWeightMatMuls(Path file) {
        OnnxModelReader m = OnnxModelReader.load(file);
        Set<String> inits = new java.util.HashSet<>();
        m.model().getGraph().getInitializerList().forEach(t -> inits.add(t.getName()));
        List<String> left = m.model().getGraph().getNodeList().stream()
                .filter(n -> n.getOpType().equals("MatMul") && inits.contains(n.getInput(1))).map(NodeProto::getName).toList();
        return left;
    }

    /** ONNX Runtime's own int4 figures on this fixture, as {@code tools/int4_reference.py} measured them. */
    static JsonObject reference() throws IOException {
        Path file = Fixtures.projectRoot().resolve("runtime/src/test/resources/quantize/int4-reference-pylm.json");
        return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    }
}
