package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.ConstTensor;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.simplify.Simplifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code simplify} on a dynamic decoder Stepwise itself exported (GPT-2, {@code gpt2-tiny-random}), and on an
 * optimum-style merged decoder built from it: an If on {@code use_cache_branch} whose two branches hold the
 * decoder, as {@code decoder_model_merged.onnx} has.
 */
class SimplifyGpt2ExportTest {
    @TempDir
    static Path tmp;
    static ExportResult export;

    @BeforeAll
    static void exportDynamicDecoder() {
        export = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-dynamic"));
    }

    @Test
    void stepwiseExportBecomesStaticStepGraphs() throws Exception {
        Simplifier.Result r = Simplifier.run(export.modelFile(), tmp.resolve("gpt2-steps"),
                Simplifier.Options.of(2, 8, 4).withThreads(1));
        SimplifyAsserts.assertFolder(r, 4);
        for (Simplifier.Step s : r.steps()) {
            ModelProto m = SimplifyAsserts.assertStaticStep(r, s.step());
            long past = s.step() == 0 ? 0 : 8 + s.step() - 1;
            long seq = s.step() == 0 ? 8 : 1;
            assertArrayEquals(new long[] {2, 1000}, new long[] {SimplifyAsserts.output(m, "logits").dim(0),
                SimplifyAsserts.output(m, "logits").dim(2)});
            assertArrayEquals(new long[] {2, 4, past + seq, 8}, SimplifyAsserts.output(m, "present.4.value").dims());
            assertTrue(s.maxAbsDiff().get("logits") <= 1e-4, s.maxAbsDiff().toString());
            assertTrue(OpCounts(s) < OpCounts(r.sourceOps()), "fewer nodes than the dynamic decoder");
        }
        assertTrue(r.sourceOps().getOrDefault("Shape", 0) > 0, "the dynamic decoder computes shapes: " + r.sourceOps());
    }

    @Test
    void mergedDecoderTakesTheRightBranchAtEachStep() throws Exception {
        Path merged = export.modelFile().resolveSibling("decoder_model_merged.onnx");
        Files.write(merged, merge(OnnxModelReader.load(export.modelFile()).model()).toByteArray());
        Simplifier.Result r = Simplifier.run(merged, tmp.resolve("merged-steps"),
                Simplifier.Options.of(1, 6, 3).withThreads(1));
        SimplifyAsserts.assertFolder(r, 3);
        assertEquals(1, r.sourceOps().get("If"));
        for (Simplifier.Step s : r.steps()) {
            ModelProto m = SimplifyAsserts.assertStaticStep(r, s.step());
            assertTrue(!s.ops().containsKey("If"), s.ops().toString());
            assertTrue(SimplifyAsserts.input(m, "use_cache_branch") == null, "the switch became a constant");
            assertTrue(s.maxAbsDiff().get("logits") <= 1e-4, s.maxAbsDiff().toString());
        }
        assertTrue(SimplifyAsserts.input(SimplifyAsserts.assertStaticStep(r, 0), "past_key_values.0.key") == null,
                "prefill takes the no-cache branch, which reads no past");
    }

    private static int OpCounts(Simplifier.Step s) {
        return dev.stepwise.runtime.onnx.passes.OpCounts.total(s.ops());
    }

    private static int OpCounts(Map<String, Integer> ops) {
        return dev.stepwise.runtime.onnx.passes.OpCounts.total(ops);
    }

    /**
     * Wraps a decoder into {@code If(use_cache_branch)}: the then branch is the decoder as it is; the else branch is
     * the decoder with its past reads replaced by zero-length constants, as optimum's no-cache decoder never reads a
     * past. Weights stay in the outer graph, shared by both branches.
     */
    static ModelProto merge(ModelProto decoder) {
        GraphProto g = decoder.getGraph();
        GraphProto.Builder outer = GraphProto.newBuilder().setName("merged").addAllInitializer(g.getInitializerList())
                .addAllInput(g.getInputList());
        outer.addInput(ValueInfoProto.newBuilder().setName("use_cache_branch").setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.BOOL_VALUE)
                        .setShape(dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto.newBuilder().addDim(
                                dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto.Dimension.newBuilder()
                                        .setDimValue(1))))));
        GraphProto thenBranch = branch(g, "with_past", false);
        GraphProto elseBranch = branch(g, "no_past", true);
        NodeProto.Builder ifNode = NodeProto.newBuilder().setOpType("If").setName("optimum::if")
                .addInput("use_cache_branch")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch")
                        .setType(AttributeProto.AttributeType.GRAPH).setG(thenBranch))
                .addAttribute(AttributeProto.newBuilder().setName("else_branch")
                        .setType(AttributeProto.AttributeType.GRAPH).setG(elseBranch));
        for (ValueInfoProto o : g.getOutputList()) {
            ifNode.addOutput(o.getName());
            outer.addOutput(o);
        }
        outer.addNode(ifNode);
        return decoder.toBuilder().setGraph(outer).build();
    }

    private static GraphProto branch(GraphProto g, String prefix, boolean noPast) {
        Map<String, String> renames = new HashMap<>();
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    renames.put(o, prefix + "/" + o);
                }
            }
        }
        GraphProto.Builder b = GraphProto.newBuilder().setName(prefix);
        if (noPast) {
            for (ValueInfoProto in : g.getInputList()) {
                if (in.getName().startsWith("past_key_values")) {
                    String empty = prefix + "/" + in.getName() + "/empty";
                    renames.put(in.getName(), empty);
                    long heads = in.getType().getTensorType().getShape().getDim(1).getDimValue();
                    long dim = in.getType().getTensorType().getShape().getDim(3).getDimValue();
                    // [1, heads, 0, dim] broadcasts against nothing: Expand it to the batch first
                    b.addInitializer(ConstTensor.ofDoubles(TensorProto.DataType.FLOAT_VALUE,
                            new long[] {1, heads, 0, dim}, new double[0]).toProto(empty + "/1"));
                    b.addNode(NodeProto.newBuilder().setOpType("Shape").addInput("input_ids")
                            .addOutput(empty + "/ids_shape"));
                    b.addInitializer(ConstTensor.vector(0).toProto(empty + "/zero"));
                    b.addInitializer(ConstTensor.vector(1).toProto(empty + "/one"));
                    b.addInitializer(ConstTensor.vector(1, 1, 1).toProto(empty + "/rest"));
                    b.addNode(NodeProto.newBuilder().setOpType("Slice").addInput(empty + "/ids_shape")
                            .addInput(empty + "/zero").addInput(empty + "/one").addOutput(empty + "/batch"));
                    b.addNode(NodeProto.newBuilder().setOpType("Concat").addInput(empty + "/batch")
                            .addInput(empty + "/rest").addOutput(empty + "/shape")
                            .addAttribute(AttributeProto.newBuilder().setName("axis")
                                    .setType(AttributeProto.AttributeType.INT).setI(0)));
                    b.addNode(NodeProto.newBuilder().setOpType("Expand").addInput(empty + "/1")
                            .addInput(empty + "/shape").addOutput(empty));
                }
            }
        }
        for (NodeProto n : g.getNodeList()) {
            NodeProto.Builder nb = n.toBuilder().setName(prefix + "/" + n.getName());
            for (int i = 0; i < n.getInputCount(); i++) {
                nb.setInput(i, renames.getOrDefault(n.getInput(i), n.getInput(i)));
            }
            for (int i = 0; i < n.getOutputCount(); i++) {
                nb.setOutput(i, renames.getOrDefault(n.getOutput(i), n.getOutput(i)));
            }
            b.addNode(nb);
        }
        for (ValueInfoProto o : g.getOutputList()) {
            b.addOutput(ValueInfoProto.newBuilder().setName(renames.get(o.getName()))
                    .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                            .setElemType(o.getType().getTensorType().getElemType()))));
        }
        return b.build();
    }
}
