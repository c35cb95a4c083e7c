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
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --optimize ort} on the LLaMA-family, GPT-2, GPT-Neo, OPT and BioGPT checkpoints: the fused export validates against the PyTorch
 * reference (diffs printed), its graph is ONNX Runtime's fused operators (one GroupQueryAttention per layer, with
 * rotary or learned positions, the residual adds inside SkipSimplifiedLayerNormalization or SkipLayerNormalization,
 * GPT-2's gelu_new as FastGelu, no Softmax left), and the generator's greedy and beam tokens
 * on a left-padded batch of prompts equal the plain export's; the trained fixture's fused export also quantizes to
 * int4 through the quality gate, GroupQueryAttention kept. The plain export of the fixtures is byte for byte the
 * file it was before attention and norms became Ops' fused layers (hashes of the files exported before the change).
 */
class OrtFusedExportTest {
    /** SHA-256 of the plain model.onnx, as exported by the commit before the fused layers (550d0f6). */
    static final Map<String, String> PLAIN_GRAPHS = Map.of(
            "llama-tiny-random-fp16", "60dbf1d4708594a687bf1f312c58b5a1f8848dbe84b2bd2cc9553cd6409b29b0",
            "pylm-llama-trained", "2e0df62c58ac0251c17a6901c0689dffe7479e01696e903fe1d438a308f90538",
            // as exported by 24eb5eb, before GPT-2's attention, norms and activation became Ops' fused layers
            "gpt2-tiny-random", "5070c629e8b3fe533c6652c83cafdcd11225d3477b5e85e157bb7cd35b36082c",
            "gpt2-tiny", "d7a8dfea737392a36c53c43b24ca845f97d38810ed894adbb862a0fbc1c9e920",
            "gpt_neo-tiny", "253916ccbe5a7c9a59497eed4eb2b578fef6b69409f408aed23862769829eb60",
            "opt-tiny", "74ba1078678a16118659cc94b0da90197d9ddaa958354acce51cef7cdfbbbace",
            "opt-tiny-350m-style", "5f489925fd60c89af5c76e0a6b3759154182624f9cf0068a4b85c1e03556d963");

    /** What a LLaMA-family graph of {@code n} layers holds: the first norm has nothing to add, every later one does. */
    static Map<String, Integer> llamaNodes(int n) {
        return Map.of("com.microsoft.GroupQueryAttention", n, "com.microsoft.RotaryEmbedding", 2 * n,
                "SimplifiedLayerNormalization", 1, "com.microsoft.SkipSimplifiedLayerNormalization", 2 * n);
    }

    /**
     * What a GPT-2 or GPT-Neo graph of {@code n} layers holds: every norm but the first (which follows the embedding
     * sum, split from it by the mask set-up in the plain graph whose bytes are pinned) adds the previous block's
     * output; the MLP's bias and gelu_new are one FastGelu.
     */
    static Map<String, Integer> gpt2Nodes(int n) {
        return layerNormNodes(n, 1, "com.microsoft.FastGelu");
    }

    /**
     * A learned-position graph of {@code n} layers: one GroupQueryAttention per layer, {@code layerNorms} standalone
     * LayerNormalization, two SkipLayerNormalization per layer and, unless null, one {@code activation} node per layer.
     */
    static Map<String, Integer> layerNormNodes(int n, int layerNorms, String activation) {
        Map<String, Integer> nodes = new java.util.HashMap<>(Map.of("com.microsoft.GroupQueryAttention", n,
                "LayerNormalization", layerNorms, "com.microsoft.SkipLayerNormalization", 2 * n));
        if (activation != null) {
            nodes.put(activation, n);
        }
        return nodes;
    }

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> fusedExportGeneratesThePlainExportsTokens() {
        return Stream.of(
                DynamicTest.dynamicTest("llama-tiny-random-fp16", () -> check("llama-tiny-random-fp16",
                        Fixtures.path("llama-tiny-random-fp16"), "GroupQueryAttention", OrtFusedExportTest::llamaNodes)),
                DynamicTest.dynamicTest("pylm-llama-trained", () -> check("pylm-llama-trained",
                        Fixtures.path("pylm-llama-trained"), "GroupQueryAttention", OrtFusedExportTest::llamaNodes)),
                // 4 heads sharing 2 KV heads, sliding_window 8: validation's 16-token prefill crosses the window
                DynamicTest.dynamicTest("mistral tiny (random)", () -> check("mistral-tiny",
                        random("mistral", "tiny"), "GroupQueryAttention", OrtFusedExportTest::llamaNodes)),
                // llama3 rope_scaling: the cos/sin caches come from the scaled frequencies
                DynamicTest.dynamicTest("llama tiny-llama3 (random)", () -> check("llama-tiny-llama3",
                        random("llama", "tiny-llama3"), "GroupQueryAttention", OrtFusedExportTest::llamaNodes)),
                // the fixture's norms are 1/0 and its biases 0; the random one has all of them random
                DynamicTest.dynamicTest("gpt2-tiny-random", () -> check("gpt2-tiny-random",
                        Fixtures.path("gpt2-tiny-random"), "GroupQueryAttention", OrtFusedExportTest::gpt2Nodes)),
                DynamicTest.dynamicTest("gpt2 tiny (random)", () -> check("gpt2-tiny", random("gpt2", "tiny"),
                        "GroupQueryAttention", OrtFusedExportTest::gpt2Nodes)),
                // exact gelu (BiasGelu) and scores also divided by layer + 1 (GroupQueryAttention's scale per layer)
                DynamicTest.dynamicTest("gpt2 tiny, gelu, scale_attn_by_inverse_layer_idx (random)", () -> {
                    Path checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("gpt2-tiny-gelu"), "gpt2", "tiny");
                    ExportChecks.editConfig(checkpoint, c -> {
                        c.addProperty("activation_function", "gelu");
                        c.addProperty("scale_attn_by_inverse_layer_idx", true);
                    });
                    check("gpt2-tiny-gelu", checkpoint, "GroupQueryAttention",
                            n -> layerNormNodes(n, 1, "com.microsoft.BiasGelu"));
                }),
                // global and local layers alternating, window 4: validation's 16-token prefill crosses it
                DynamicTest.dynamicTest("gpt_neo tiny (random)", () -> check("gpt_neo-tiny",
                        random("gpt_neo", "tiny"), "GroupQueryAttention", OrtFusedExportTest::gpt2Nodes)),
                // pre-norm, relu (Add + Relu, not fused), queries scaled before the product
                DynamicTest.dynamicTest("opt tiny (random)", () -> check("opt-tiny", random("opt", "tiny"),
                        "GroupQueryAttention", n -> layerNormNodes(n, 1, null))),
                // post-norm (every norm a SkipLayerNormalization of a sum), project_in / project_out
                DynamicTest.dynamicTest("opt tiny-350m-style (random)", () -> check("opt-tiny-350m-style",
                        random("opt", "tiny-350m-style"), "GroupQueryAttention", n -> layerNormNodes(n, 0, null))),
                // OPT's pre-norm layer with scaled embeddings, exact gelu (BiasGelu) and its own position offset
                DynamicTest.dynamicTest("biogpt tiny (random)", () -> check("biogpt-tiny", random("biogpt", "tiny"),
                        "GroupQueryAttention", n -> layerNormNodes(n, 1, "com.microsoft.BiasGelu"))));
    }

    private static Path random(String arch, String preset) {
        Path dir = tmp.resolve(arch + "-" + preset);
        RandomCheckpoint.write(arch, preset, dir, 11);
        return dir;
    }

    /**
     * Exports {@code checkpoint} plain and fused and checks the fused graph: validated, holding {@code nodes(layers)}
     * (op type → count) and no Softmax, the past read by {@code attention} nodes only, the plain export's tokens.
     */
    private static void check(String label, Path checkpoint, String attention, IntFunction<Map<String, Integer>> nodes)
            throws Exception {
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
        nodes.apply(layers).forEach((op, count) -> assertEquals(count, ops.getOrDefault(op, 0), label + ": " + op
                + " nodes in " + ops));
        assertFalse(ops.containsKey("Softmax"), label + ": a standalone Softmax is left: " + ops);
        for (var node : model.getGraph().getNodeList()) {
            for (String input : node.getInputList()) {
                assertTrue(!input.startsWith("past_key_values.") || node.getOpType().equals(attention),
                        label + ": the past is read by " + node.getOpType() + " (" + node.getName() + "), not only by "
                                + attention);
            }
        }

        // the output projections' biases (attention, MLP) are the bias input of the norm after them, no Add of their
        // own: every SkipLayerNormalization of these architectures has one
        long skips = ops.getOrDefault("com.microsoft.SkipLayerNormalization", 0);
        long biased = model.getGraph().getNodeList().stream().filter(n -> n.getOpType()
                .equals("SkipLayerNormalization") && n.getInputCount() == 5 && !n.getInput(4).isEmpty()).count();
        System.out.printf("%s --optimize ort: %d of %d SkipLayerNormalization carry the projection's bias%n", label,
                biased, skips);
        assertEquals(skips, biased, label + ": SkipLayerNormalization nodes with the projection's bias");
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
        // a user's architecture that writes its own attention from standard ops: refused after its trace
        StepwiseException toy = assertThrows(StepwiseException.class, () -> Exporter.export(
                UserArchitectureTest.ToyCheckpoint.write(tmp.resolve("toy")), tmp.resolve("toy-ort"), ort));
        assertEquals("--optimize ort: toy_attention cannot be exported with ONNX Runtime's fused operators: its forward"
                + " builds attention from standard ops, not Ops' fused layers (Ops.rotaryAttention or"
                + " Ops.causalAttention) (--optimize ort supports llama, mistral, gpt2, gpt_neo, opt, biogpt, bert,"
                + " distilbert)",
                toy.getMessage());
        // seq2seq has no fused form yet (the encoders have: OrtFusedEncoderTest)
        StepwiseException bart = assertThrows(StepwiseException.class,
                () -> Exporter.export(Fixtures.path("seq2seq/bart-reverse-trained"), tmp.resolve("bart-ort"), ort));
        assertTrue(bart.getMessage().startsWith("--optimize ort: bart cannot be exported"), bart.getMessage());
        StepwiseException half = assertThrows(StepwiseException.class, () -> Exporter.export(
                Fixtures.path("llama-tiny-random-fp16"), tmp.resolve("llama-ort-fp16"),
                ort.withDtype(dev.stepwise.annotations.DType.FLOAT16)));
        assertTrue(half.getMessage().contains("float32 graphs only"), half.getMessage());
        assertFalse(Files.exists(tmp.resolve("toy-ort")), "nothing written for a refused export");
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
