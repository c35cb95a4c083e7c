package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.quantize.CalibrationMethod;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.quantize.StaticQdqOptions;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * int8 static QDQ of the trained LLaMA fixture's step graphs (batch 1, prompt 16, 8 steps): one calibration over the
 * whole step chain and one set of scales in every step graph, the graphs still static (UnrollTest's invariants) and
 * sharing one weights file, the step chain's next-token logits close to the float chain's at every step, greedy
 * tokens through the Java generator mostly unchanged; minmax and percentile figures; int8 dynamic keeps the graphs
 * static too; bad options give one-line errors.
 */
class QuantizeStaticStepGraphsTest {
    static final int STEPS = 8;

    @TempDir
    static Path tmp;
    static Path steps;

    @BeforeAll
    static void unroll() {
        steps = Unroller.unroll(Fixtures.path("pylm-llama-trained"), tmp.resolve("steps"),
                UnrollOptions.of(1, 16, STEPS).withValidate(false)).outputDir();
    }

    static QuantizeOptions staticDefaults() {
        return QuantizeOptions.defaults(QuantizeMode.INT8_STATIC);
    }

    @Test
    void minMaxKeepsTheStepChainStaticSharedAndClose() throws IOException {
        QuantizeResult r = Quantizer.quantize(steps, tmp.resolve("int8-static"), staticDefaults());
        QualityFigures chain = r.quality().get(r.quality().size() - 1);
        System.out.println("pylm-llama-trained step graphs int8-static minmax: " + chain.summary() + "; step 0 alone: "
                + r.quality().get(0).summary().trim() + "; " + r.bytesBefore() + " -> " + r.bytesAfter() + " bytes");
        assertEquals("step chain (" + STEPS + " steps)", chain.file());
        assertTrue(chain.top1() >= 0.97, "top-1 " + chain.top1());
        assertTrue(chain.meanKl() <= 0.05, "KL " + chain.meanKl());
        Path out = r.outputDir();
        assertOneWeightsFile(out);
        assertTrue(Files.size(out.resolve(Unroller.WEIGHTS_FILE)) < Files.size(steps.resolve(Unroller.WEIGHTS_FILE)) * 0.4);

        Map<String, String> scaleBytes = new HashMap<>();
        for (int s = 0; s < STEPS; s++) {
            ModelProto m = load(out.resolve("decoder_model-opt_gen_step=" + s + ".onnx"));
            UnrollTest.assertStatic(m, s);
            Map<String, Long> ops = new HashMap<>();
            m.getGraph().getNodeList().forEach(n -> ops.merge(n.getOpType(), 1L, Long::sum));
            assertEquals(43L, ops.get("DequantizeLinear") - ops.get("QuantizeLinear"),
                    "42 MatMul weights and the head (the K = 1 rotary outer product stays float)");
            assertFalse(ops.containsKey("MatMulInteger"));
            for (NodeProto n : m.getGraph().getNodeList()) {
                if (n.getOpType().equals("MatMul") || n.getOpType().equals("Gemm")) {
                    assertFalse(n.getInput(1).endsWith(".weight.T") || n.getInput(1).equals("lm_head.weight"),
                            "step " + s + ": " + n.getName() + " left float");
                }
            }
            // the same tensor has the same scale in every step: activation scalars by value, weight scales by place
            for (TensorProto t : m.getGraph().getInitializerList()) {
                if (t.getName().endsWith("_scale") || t.getName().endsWith("_zero_point")) {
                    String key = t.getDataLocation() == TensorProto.DataLocation.EXTERNAL
                            ? t.getExternalDataList().toString() : t.getRawData().toStringUtf8() + Arrays.toString(
                                    t.getRawData().toByteArray());
                    String before = scaleBytes.putIfAbsent(t.getName(), key);
                    assertTrue(before == null || before.equals(key), "step " + s + ": " + t.getName() + " differs");
                }
            }
        }
        assertTrue(scaleBytes.size() > 2 * 43, "scales of the weights and activations: " + scaleBytes.size());

        int same = 0;
        int total = 0;
        try (StepGraphs f = StepGraphs.open(steps, 1); StepGraphs q = StepGraphs.open(out, 1);
             TextTokenizer tok = TextTokenizer.open(steps)) {
            for (String p : QuantizeTrainedLlamaTest.PROMPTS) {
                long[] all = tok.encode(p);
                long[] ids = Arrays.copyOfRange(all, Math.max(0, all.length - 16), all.length); // the unrolled L
                long[] a = new Generator(f).greedy(List.of(ids), STEPS).get(0);
                long[] b = new Generator(q).greedy(List.of(ids), STEPS).get(0);
                for (int j = ids.length; j < Math.min(a.length, b.length); j++) {
                    same += a[j] == b[j] ? 1 : 0;
                    total++;
                }
                System.out.printf("greedy fp32: %s%n int8-static: %s%n",
                        tok.decode(Arrays.copyOfRange(a, ids.length, a.length)).replace("\n", "\\n"),
                        tok.decode(Arrays.copyOfRange(b, ids.length, b.length)).replace("\n", "\\n"));
            }
        }
        System.out.printf("greedy tokens equal: %d/%d%n", same, total);
        assertTrue(same >= total * 0.75, same + "/" + total);
    }

    @Test
    void percentileFigures() {
        QuantizeResult r = Quantizer.quantize(steps, tmp.resolve("int8-static-percentile"),
                staticDefaults().withThresholds(0.9, 0.1, 0.995).withStatic(StaticQdqOptions.defaults()
                        .withMethod(CalibrationMethod.PERCENTILE, StaticQdqOptions.DEFAULT_PERCENTILE)));
        QualityFigures chain = r.quality().get(r.quality().size() - 1);
        System.out.println("pylm-llama-trained step graphs int8-static percentile 99.99: " + chain.summary());
        assertTrue(chain.top1() >= 0.9, "top-1 " + chain.top1());
    }

    @Test
    void int8DynamicKeepsTheStepGraphsStatic() throws IOException {
        QuantizeResult r = Quantizer.quantize(steps, tmp.resolve("int8"), QuantizeOptions.defaults());
        QualityFigures chain = r.quality().get(r.quality().size() - 1);
        System.out.println("pylm-llama-trained step graphs int8 dynamic: " + chain.summary());
        assertEquals("step chain (" + STEPS + " steps)", chain.file());
        assertOneWeightsFile(r.outputDir());
        for (int s = 0; s < STEPS; s++) {
            ModelProto m = load(r.outputDir().resolve("decoder_model-opt_gen_step=" + s + ".onnx"));
            UnrollTest.assertStatic(m, s);
            assertTrue(m.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("MatMulInteger")));
        }
    }

    @Test
    void badOptionsGiveOneLineErrors() throws IOException {
        Path out = tmp.resolve("bad");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--calibration-method", "percentile",
                "--percentile", "120"), 2, "--percentile", "120");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--calibration-method", "entropy"), 2,
                "--calibration-method", "entropy");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--per-tensor"), 2, "--per-tensor");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--calibration", "rows.txt"), 2, "--mode int8-static");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--calibration", tmp.resolve("missing.txt").toString()),
                1, "--calibration", "missing.txt", "no such file");
        // each mode refuses the flags of the others, naming the flag
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int4", "--percentile", "99"), 2, "--percentile", "int8-static");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--block-size", "64"), 2, "--block-size", "int4");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--head-int4"), 2, "--head-int4", "--mode int8");
        QuantizeTrainedLlamaTest.assertOneLineError(QuantizeTrainedLlamaTest.run("quantize", "--model", steps.toString(),
                "--output", out.toString(), "--mode", "int8-static", "--asymmetric"), 2, "--asymmetric");
        assertFalse(Files.exists(out));
        try (Stream<Path> left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".bad")), "no temporary folder left");
        }
    }

    /** {@code unroll --quantize int8-static}: the float step graphs calibrated on the built-in set, then gated. */
    @Test
    void unrollQuantizeInt8StaticEndToEnd() throws IOException {
        Path out = tmp.resolve("cli-unroll-int8-static");
        QuantizeTrainedLlamaTest.Outcome o = QuantizeTrainedLlamaTest.run("unroll", "--model",
                Fixtures.path("pylm-llama-trained").toString(), "--output", out.toString(), "--batch-size", "1",
                "--sequence-length", "16", "--max-new-tokens", String.valueOf(STEPS), "--no-validate",
                "--quantize", "int8-static");
        assertEquals(0, o.status(), o.stderr());
        assertTrue(o.stderr().contains("step chain (" + STEPS + " steps)"), "the step chain is gated: " + o.stderr());
        assertOneWeightsFile(out);
        String report = Files.readString(out.resolve("quantize-report.json"));
        assertTrue(report.contains("\"mode\": \"int8-static\"") && report.contains("\"inputs\": \"built-in\""), report);
        for (int s = 0; s < STEPS; s++) {
            ModelProto m = load(out.resolve("decoder_model-opt_gen_step=" + s + ".onnx"));
            UnrollTest.assertStatic(m, s);
            assertTrue(m.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("QuantizeLinear")));
        }
        try (Stream<Path> left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".cli-unroll")), "no temporary folder left");
        }
    }

    static void assertOneWeightsFile(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(Unroller.WEIGHTS_FILE), files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".onnx_data") || n.startsWith(".")).toList());
        }
        for (int s = 0; s < STEPS; s++) {
            for (TensorProto t : load(dir.resolve("decoder_model-opt_gen_step=" + s + ".onnx")).getGraph().getInitializerList()) {
                if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                    assertEquals(Unroller.WEIGHTS_FILE, t.getExternalData(0).getValue(), t.getName());
                }
            }
        }
    }

    static ModelProto load(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return ModelProto.parseFrom(in);
        }
    }
}
