package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.quantize.Int4Scheme;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * int4 on a GPT-2 whose LM head is tied to the embedding (the export reads wte as {@code Gemm(A, wte, transB=1)}) and
 * whose Conv1D layers are MatMuls with a bias Add: by default the layers become MatMulNBits and the tied head int8
 * dynamic (MatMulInteger on wte transposed while quantized; wte stays float for its Gather); with {@code --head-int4
 * --embedding-int4} the head is MatMulNBits too and both wte and wpe become GatherBlockQuantized, so no float weight
 * matrix is left. Either way every bias stays an Add after its product, and the folder loads in ONNX Runtime and
 * generates.
 */
class QuantizeInt4TiedGpt2Test {
    static final int LAYERS = 2;
    static final List<long[]> PROMPTS = List.of(new long[] {5, 6, 7, 8, 9, 10}, new long[] {40, 41, 42});

    @TempDir
    static Path tmp;
    static Path exported;
    static List<long[]> floatTokens;
    static Map<String, Integer> floatOps;

    @BeforeAll
    static void export() {
        Path checkpoint = tmp.resolve("gpt2");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);
        exported = Exporter.export(checkpoint, tmp.resolve("export"), ExportOptions.defaults().withValidate(false))
                .outputDir();
        floatOps = OnnxModelReader.load(exported.resolve("model.onnx")).opCounts();
        System.out.println("tied GPT-2 tiny, fp32 ops " + floatOps);
        try (ExportedModel m = ExportedModel.open(exported, 1)) {
            floatTokens = new Generator(m).greedy(PROMPTS, 6);
        }
    }

    static Map<String, Integer> quantizeAndGenerate(String label, QuantizeOptions options) {
        QuantizeResult r = Quantizer.quantize(exported, tmp.resolve(label), options.withGate(false));
        OnnxModelReader q = OnnxModelReader.load(r.outputDir().resolve("model.onnx"));
        Map<String, Integer> ops = q.opCounts();
        System.out.println("tied GPT-2 tiny, " + label + ": " + r.quantizedNodes() + "; ops " + ops);
        assertEquals(floatOps.get("Add"), ops.get("Add"), "every bias Add kept, none added: " + ops);
        assertEquals(1, floatOps.get("Gemm"), "the float export's tied head: " + floatOps);
        assertEquals(Map.of("MatMul", 4 * LAYERS, "Gemm", 1), Map.of("MatMul", r.quantizedNodes().get("MatMul"),
                "Gemm", r.quantizedNodes().get("Gemm")), "the layer weights and the tied head: " + r.quantizedNodes());
        assertNull(ops.get("Gemm"), "the tied head replaced: " + ops);
        assertEquals(2 * LAYERS, ops.get("MatMul"), "only the attention products (no weight) stay MatMul: " + ops);
        for (NodeProto n : q.model().getGraph().getNodeList()) {
            if (n.getOpType().equals("MatMul")) {
                assertTrue(q.initializers().stream().noneMatch(t -> t.getName().equals(n.getInput(1))),
                        n.getName() + " still reads a float weight");
            }
        }
        try (ExportedModel m = ExportedModel.open(r.outputDir(), 1)) {
            List<long[]> tokens = new Generator(m).greedy(PROMPTS, 6);
            int same = 0;
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertEquals(floatTokens.get(i).length, tokens.get(i).length, label + " row " + i);
                for (int j = PROMPTS.get(i).length; j < tokens.get(i).length; j++) {
                    same += tokens.get(i)[j] == floatTokens.get(i)[j] ? 1 : 0;
                }
            }
            System.out.println("  greedy tokens equal to fp32: " + same + "/" + PROMPTS.size() * 6);
        }
        return ops;
    }

    @Test
    void int4LayersWithAnInt8TiedHeadByDefault() {
        Map<String, Integer> ops = quantizeAndGenerate("int4", QuantizeOptions.defaults(QuantizeMode.INT4));
        assertEquals(4 * LAYERS, ops.get("com.microsoft.MatMulNBits"), "qkv, attention and two MLP projections: " + ops);
        assertEquals(1, ops.get("MatMulInteger"), "the tied head, int8 dynamic: " + ops);
        assertEquals(floatOps.get("Gather"), ops.get("Gather"), "wte and wpe lookups stay float: " + ops);
        assertNull(ops.get("com.microsoft.GatherBlockQuantized"), ops.toString());
    }

    @Test
    void int4HeadAndEmbeddings() {
        Map<String, Integer> ops = quantizeAndGenerate("int4-head-embeddings", QuantizeOptions.defaults(QuantizeMode.INT4)
                .withInt4(new Int4Scheme(32, true, 4, true)).withEmbeddings(true));
        assertEquals(4 * LAYERS + 1, ops.get("com.microsoft.MatMulNBits"), "the layers and the tied head: " + ops);
        assertEquals(2, ops.get("com.microsoft.GatherBlockQuantized"), "wte and wpe: " + ops);
        assertFalse(ops.containsKey("MatMulInteger"), ops.toString());
        assertEquals(floatOps.get("Gather") - 2, ops.getOrDefault("Gather", 0), "only wte's and wpe's Gathers replaced");
        OnnxModelReader q = OnnxModelReader.load(tmp.resolve("int4-head-embeddings").resolve("model.onnx"));
        assertEquals(List.of(), q.initializers().stream().filter(t -> t.getDataType() == TensorProto.DataType.FLOAT_VALUE
                && t.getDimsCount() == 2 && !t.getName().endsWith("_scales")).map(TensorProto::getName).toList(),
                "no float weight matrix left (wte, wpe included), only the blocks' scales");
    }
}
