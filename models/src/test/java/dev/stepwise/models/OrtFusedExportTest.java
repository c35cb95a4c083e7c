package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.passes.OpCounts;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --optimize ort} on the LLaMA-family fixtures: the fused export validates against the PyTorch
 * reference (diffs printed), its graph is ONNX Runtime's fused operators (one GroupQueryAttention per layer, the
 * residual adds inside SkipSimplifiedLayerNormalization, no Softmax left), and the generator's greedy and beam tokens
 * on a left-padded batch of prompts equal the plain export's; the trained fixture's fused export also quantizes to
 * int4 through the quality gate, GroupQueryAttention kept. The plain export of the fixtures is byte for byte the
 * file it was before attention and norms became Ops' fused layers (hashes of the files exported before the change).
 */
class OrtFusedExportTest {
    /** SHA-256 of the plain model.onnx, as exported by the commit before the fused layers (550d0f6). */
    static final Map<String, String> PLAIN_GRAPHS = Map.of(
            "llama-tiny-random-fp16", "60dbf1d4708594a687bf1f312c58b5a1f8848dbe84b2bd2cc9553cd6409b29b0",
            "pylm-llama-trained", "2e0df62c58ac0251c17a6901c0689dffe7479e01696e903fe1d438a308f90538");

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> fusedExportGeneratesThePlainExportsTokens() {
        return Stream.of(
                DynamicTest.dynamicTest("llama-tiny-random-fp16", () -> check("llama-tiny-random-fp16",
                        Fixtures.path("llama-tiny-random-fp16"))),
                DynamicTest.dynamicTest("pylm-llama-trained", () -> check("pylm-llama-trained",
                        Fixtures.path("pylm-llama-trained"))),
                // 4 heads sharing 2 KV heads, sliding_window 8: validation's 16-token prefill crosses the window
                DynamicTest.dynamicTest("mistral tiny (random)", () -> check("mistral-tiny",
                        random("mistral", "tiny"))),
                // llama3 rope_scaling: the cos/sin caches come from the scaled frequencies
                DynamicTest.dynamicTest("llama tiny-llama3 (random)", () -> check("llama-tiny-llama3",
                        random("llama", "tiny-llama3"))));
    }

    private static Path random(String arch, String preset) {
        Path dir = tmp.resolve(arch + "-" + preset);
        RandomCheckpoint.write(arch, preset, dir, 11);
        return dir;
    }

    private static void check(String label, Path checkpoint) throws Exception {
        ExportResult plain = Exporter.export(checkpoint, tmp.resolve(label + "-plain"), ExportOptions.defaults());
        ExportResult fused = Exporter.export(checkpoint, tmp.resolve(label + "-ort"),
                ExportOptions.defaults().withOptimize(Optimize.ORT));
        ExportChecks.assertValidated(label + " --optimize ort", fused, 3);
        if (PLAIN_GRAPHS.containsKey(label)) {
            assertEquals(PLAIN_GRAPHS.get(label), sha256(plain.modelFile()), label + ": the plain graph changed");
        }
        assertEquals(Optimize.ORT, Exporter.optimize(fused.outputDir()), "stepwise.json records optimize");
        assertEquals(Optimize.PLAIN, Exporter.optimize(plain.outputDir()));

        int layers = ModelFolder.read(checkpoint).config().numLayers();
        var model = OnnxModelReader.load(fused.modelFile()).model();
        Map<String, Integer> ops = OpCounts.of(model);
        assertEquals(layers, ops.getOrDefault("com.microsoft.GroupQueryAttention", 0), label + ": " + ops);
        assertEquals(2 * layers, ops.getOrDefault("com.microsoft.RotaryEmbedding", 0), label + ": " + ops);
        // the first norm has nothing to add; every later one takes the previous block's output as its skip
        assertEquals(1, ops.getOrDefault("SimplifiedLayerNormalization", 0), label + ": " + ops);
        assertEquals(2 * layers, ops.getOrDefault("com.microsoft.SkipSimplifiedLayerNormalization", 0),
                label + ": " + ops);
        assertFalse(ops.containsKey("Softmax"), label + ": a standalone Softmax is left: " + ops);
        for (var node : model.getGraph().getNodeList()) {
            for (String input : node.getInputList()) {
                assertTrue(!input.startsWith("past_key_values.") || node.getOpType().equals("GroupQueryAttention"),
                        label + ": the past is read by " + node.getOpType() + " (" + node.getName() + "), not only by"
                                + " GroupQueryAttention");
            }
        }

        try (ExportedModel p = ExportedModel.open(plain.outputDir(), 1);
             ExportedModel f = ExportedModel.open(fused.outputDir(), 1)) {
            LastLogitsOnlyTest.assertSameTokens(label + " --optimize ort vs plain", p, f, 10, 8);
        }

        if (label.equals("pylm-llama-trained")) {
            // the trained fixture's distributions are peaked, so the quality gate means something
            QuantizeResult int4 = Quantizer.quantize(fused.outputDir(), tmp.resolve(label + "-ort-int4"),
                    QuantizeOptions.defaults(QuantizeMode.INT4).withThreads(1));
            Map<String, Integer> quantized = OpCounts.of(OnnxModelReader.load(int4.models().get(0)).model());
            assertEquals(7 * layers, quantized.getOrDefault("com.microsoft.MatMulNBits", 0),
                    "int4 of the fused export: every projection is MatMulNBits: " + quantized);
            assertEquals(layers, quantized.getOrDefault("com.microsoft.GroupQueryAttention", 0), quantized.toString());
        }
    }

    @Test
    void architecturesWithoutFusedLayersAreRefusedInOneLine() {
        ExportOptions ort = ExportOptions.defaults().withOptimize(Optimize.ORT);
        StepwiseException gpt2 = assertThrows(StepwiseException.class,
                () -> Exporter.export(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-ort"), ort));
        assertEquals("--optimize ort: gpt2 cannot be exported with ONNX Runtime's fused operators: its forward has no"
                + " fused-operator form yet (--optimize ort supports llama, mistral)", gpt2.getMessage());
        StepwiseException bert = assertThrows(StepwiseException.class,
                () -> Exporter.export(Fixtures.path("all-minilm-l6-v2"), tmp.resolve("bert-ort"), ort));
        assertTrue(bert.getMessage().startsWith("--optimize ort: bert cannot be exported"), bert.getMessage());
        StepwiseException half = assertThrows(StepwiseException.class, () -> Exporter.export(
                Fixtures.path("llama-tiny-random-fp16"), tmp.resolve("llama-ort-fp16"),
                ort.withDtype(dev.stepwise.annotations.DType.FLOAT16)));
        assertTrue(half.getMessage().contains("float32 graphs only"), half.getMessage());
        assertFalse(Files.exists(tmp.resolve("gpt2-ort")), "nothing written for a refused export");
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
