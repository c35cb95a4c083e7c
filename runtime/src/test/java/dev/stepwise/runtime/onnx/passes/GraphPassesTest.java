package dev.stepwise.runtime.onnx.passes;

import static dev.stepwise.runtime.onnx.passes.OpCase.B;
import static dev.stepwise.runtime.onnx.passes.OpCase.F;
import static dev.stepwise.runtime.onnx.passes.OpCase.I64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each pass on a small hand-built graph: what it removes or rewrites, and ONNX Runtime's outputs unchanged. */
class GraphPassesTest {
    @TempDir
    Path dir;

    private static ModelProto model(GraphProto g, int opset) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(g).build();
    }

    private static NodeProto node(String op, List<String> in, String out, AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(out + "_node").addAllInput(in).addOutput(out);
        for (AttributeProto a : attrs) {
            b.addAttribute(a);
        }
        return b.build();
    }

    private static ValueInfoProto info(String name, int type, long... dims) {
        return GraphBuilder.tensorInfo(name, type, dims);
    }

    private void assertSameOutputs(ModelProto before, ModelProto after, Map<String, ConstTensor> feeds) {
        Map<String, ConstTensor> a = OrtRunner.run(before, dir, feeds);
        Map<String, ConstTensor> b = OrtRunner.run(after, dir, feeds);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            ConstantFoldingTest.assertClose(a.get(k), b.get(k));
        }
    }

    @Test
    void deadCodeEliminationDropsUnreachableNodesInitializersAndValueInfo() {
        GraphProto g = GraphProto.newBuilder().setName("g")
                .addInput(info("x", F, 2, 3)).addInput(info("unused", F, 1))
                .addInitializer(ConstTensor.scalar(F, 2).toProto("two"))
                .addInitializer(ConstTensor.scalar(F, 3).toProto("three"))
                .addNode(node("Mul", List.of("x", "two"), "y"))
                .addNode(node("Mul", List.of("x", "three"), "dead"))
                .addNode(node("Relu", List.of("dead"), "dead2"))
                .addValueInfo(info("dead", F, 2, 3))
                .addOutput(info("y", F, 2, 3)).build();
        ModelProto before = model(g, 13);
        ModelProto after = DeadCodeElimination.apply(before);
        assertEquals(Map.of("Mul", 1), OpCounts.of(after));
        assertEquals(1, after.getGraph().getInitializerCount());
        assertEquals(0, after.getGraph().getValueInfoCount());
        assertEquals(2, after.getGraph().getInputCount(), "inputs stay by default");
        assertEquals(1, DeadCodeElimination.apply(before, true).getGraph().getInputCount());
        assertSameOutputs(before, after, Map.of("x", OpCase.random(F, 2, 3), "unused", OpCase.random(F, 1)));
    }

    @Test
    void identityEliminationRewiresReadersAndRenamesProducersOfOutputs() {
        GraphProto g = GraphProto.newBuilder().setName("g")
                .addInput(info("x", F, 4))
                .addNode(node("Relu", List.of("x"), "r"))
                .addNode(node("Identity", List.of("r"), "i1"))
                .addNode(node("Neg", List.of("i1"), "n"))
                .addNode(node("Identity", List.of("n"), "logits"))
                .addNode(node("Identity", List.of("x"), "copy"))
                .addNode(node("Exp", List.of("n"), "also_reads_n"))
                .addOutput(info("logits", F, 4)).addOutput(info("copy", F, 4)).addOutput(info("also_reads_n", F, 4))
                .build();
        ModelProto before = model(g, 13);
        ModelProto after = IdentityElimination.apply(before);
        // the Identity of a graph input must stay; the others go
        assertEquals(Map.of("Relu", 1, "Neg", 1, "Exp", 1, "Identity", 1), OpCounts.of(after));
        NodeProto neg = after.getGraph().getNode(1);
        assertEquals("r", neg.getInput(0));
        assertEquals("logits", neg.getOutput(0), "the producer writes the output name directly");
        assertEquals("logits", after.getGraph().getNode(3).getInput(0));
        assertTrue(GraphChecker.checkStructure(after).isEmpty(), GraphChecker.checkStructure(after).toString());
        assertSameOutputs(before, after, Map.of("x", OpCase.random(F, 4)));
    }

    @Test
    void topologicalSortOrdersShuffledNodesAndRejectsCycles() {
        List<NodeProto> nodes = new ArrayList<>(List.of(
                node("Relu", List.of("x"), "a"), node("Neg", List.of("a"), "b"), node("Add", List.of("a", "b"), "c"),
                node("Mul", List.of("c", "x"), "d")));
        Collections.reverse(nodes);
        GraphProto g = GraphProto.newBuilder().setName("g").addInput(info("x", F, 3)).addAllNode(nodes)
                .addOutput(info("d", F, 3)).build();
        assertFalse(TopologicalSort.isSorted(g));
        GraphProto sorted = TopologicalSort.apply(g);
        assertTrue(TopologicalSort.isSorted(sorted));
        assertEquals(List.of("Relu", "Neg", "Add", "Mul"), sorted.getNodeList().stream().map(NodeProto::getOpType).toList());
        assertSameOutputs(model(sorted, 13), model(sorted, 13), Map.of("x", OpCase.random(F, 3)));

        GraphProto cyclic = GraphProto.newBuilder().setName("c").addInput(info("x", F, 3))
                .addNode(node("Add", List.of("x", "q"), "p")).addNode(node("Neg", List.of("p"), "q"))
                .addOutput(info("q", F, 3)).build();
        StepwiseException e = assertThrows(StepwiseException.class, () -> TopologicalSort.apply(cyclic));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
    }

    /**
     * An If on an initializer condition whose branches read an outer value, hold their own initializer (returned as
     * an output) and define a name that clashes with an outer one.
     */
    private static ModelProto ifModel(boolean cond) {
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addInitializer(ConstTensor.scalar(F, 10).toProto("ten"))
                .addNode(node("Add", List.of("h", "ten"), "t"))
                .addOutput(info("t", F, 2, 3)).addOutput(info("ten", F)).build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(node("Neg", List.of("h"), "h_neg"))
                // a branch-local name that clashes with an outer one
                .addNode(node("Relu", List.of("h_neg"), "y"))
                .addOutput(info("y", F, 2, 3)).addOutput(info("h_neg", F, 2, 3)).build();
        GraphProto g = GraphProto.newBuilder().setName("g")
                .addInput(info("x", F, 2, 3))
                .addInitializer(ConstTensor.ofLongs(B, new long[] {1}, new long[] {cond ? 1 : 0}).toProto("cond"))
                .addNode(node("Exp", List.of("x"), "h"))
                .addNode(NodeProto.newBuilder().setOpType("If").setName("if").addInput("cond").addOutput("y")
                        .addOutput("z")
                        .addAttribute(AttributeProto.newBuilder().setName("then_branch")
                                .setType(AttributeProto.AttributeType.GRAPH).setG(thenBranch))
                        .addAttribute(AttributeProto.newBuilder().setName("else_branch")
                                .setType(AttributeProto.AttributeType.GRAPH).setG(elseBranch)))
                .addNode(node("Mul", List.of("y", "z"), "out"))
                .addOutput(info("out", F, 2, 3)).build();
        return model(g, 13);
    }

    @Test
    void ifBranchSelectionInlinesTheTakenBranch() {
        for (boolean cond : new boolean[] {true, false}) {
            ModelProto before = ifModel(cond);
            ModelProto after = IfBranchSelection.apply(before, null);
            assertEquals(0, IfBranchSelection.count(after.getGraph()), "If is gone");
            assertTrue(GraphChecker.checkStructure(after).isEmpty(), GraphChecker.checkStructure(after).toString());
            assertSameOutputs(before, after, Map.of("x", OpCase.random(F, 2, 3)));
            ModelProto optimized = StaticGraphOptimizer.optimize(before, null);
            assertFalse(OpCounts.of(optimized).containsKey("Identity"), OpCounts.of(optimized).toString());
            assertSameOutputs(before, optimized, Map.of("x", OpCase.random(F, 2, 3)));
        }
    }

    @Test
    void graphCheckerReportsEachRule() {
        GraphProto ok = GraphProto.newBuilder().setName("g").addInput(info("x", F, 2))
                .addNode(node("Relu", List.of("x"), "y")).addOutput(info("y", F, 2)).build();
        assertEquals(List.of(), GraphChecker.check(model(ok, 13), null));

        GraphProto undefined = ok.toBuilder().setNode(0, node("Add", List.of("x", "nowhere"), "y")).build();
        assertTrue(GraphChecker.checkStructure(model(undefined, 13)).get(0).contains("'nowhere' which nothing defines"));

        GraphProto unordered = GraphProto.newBuilder().setName("g").addInput(info("x", F, 2))
                .addNode(node("Neg", List.of("a"), "y")).addNode(node("Relu", List.of("x"), "a"))
                .addOutput(info("y", F, 2)).build();
        assertTrue(GraphChecker.checkStructure(model(unordered, 13)).get(0).contains("not in topological order"));

        GraphProto twice = ok.toBuilder().addNode(node("Neg", List.of("x"), "y")).build();
        assertTrue(GraphChecker.checkStructure(model(twice, 13)).get(0).contains("redefines"));

        GraphProto noValueInfo = GraphProto.newBuilder().setName("g").addInput(info("x", F, 2))
                .addNode(node("Relu", List.of("x"), "a")).addNode(node("Neg", List.of("a"), "y"))
                .addOutput(info("y", F, 2)).build();
        assertTrue(GraphChecker.check(model(noValueInfo, 13), null).get(0).contains("'a'"));

        GraphProto wrongType = noValueInfo.toBuilder().addValueInfo(info("a", F, 3)).build();
        List<String> problems = GraphChecker.check(model(wrongType, 13), null);
        assertTrue(problems.get(0).contains("recorded as float[3] but computes float[2]"), problems.toString());

        GraphProto badDomain = ok.toBuilder().setNode(0, node("Relu", List.of("x"), "y").toBuilder()
                .setDomain("com.microsoft").build()).build();
        assertTrue(GraphChecker.checkStructure(model(badDomain, 13)).get(0).contains("not imported"));
    }

    @Test
    void noOpEliminationDropsWhatFixedShapesMakeTrivial() {
        GraphBuilder g = new GraphBuilder("noop", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 3}));
        g.addInput(GraphBuilder.tensorInfo("empty", F, new long[] {2, 0}));
        g.addInitializer(ConstTensor.vector(1, 1).toProto("ones"));
        g.addInitializer(ConstTensor.vector(2, 3).toProto("shape"));
        g.addInitializer(ConstTensor.scalar(F, 0).toProto("zero"));
        String a = g.addNode("Tile", List.of("x", "ones"));
        String b = g.addNode("Reshape", List.of(a, "shape"));
        String c = g.addNode("Expand", List.of(b, "shape"));
        String d = g.addNode("Cast", List.of(c), Attributes.of("to", (long) F));
        String e = g.addNode("Add", List.of(d, "zero"));
        String f = g.addNode("Concat", List.of("empty", e), Attributes.of("axis", 1L));
        String y = g.addNode("Relu", List.of(f));
        g.addOutput(GraphBuilder.tensorInfo(y, F, new long[] {2, 3}));
        ModelProto before = g.build(false);
        ModelProto after = StaticGraphOptimizer.optimize(before, null,
                StaticGraphOptimizer.Options.DEFAULT.withDropUnusedInputs(true));
        assertEquals(Map.of("Relu", 1), OpCounts.of(after));
        assertEquals(1, after.getGraph().getInputCount(), "the zero-length input is no longer read");
        Map<String, ConstTensor> feeds = Map.of("x", OpCase.random(F, 2, 3));
        assertEquals(OrtRunner.run(after, dir, feeds).get(y).toDoubles().length, 6);
    }

    @Test
    void optimizerMakesADynamicSubgraphStaticAndRecordsEveryValue() {
        // y = Reshape(x, [B, S*H]) with the target computed from Shape, then a Softmax
        GraphBuilder g = new GraphBuilder("dyn", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 3, 4}));
        g.addInitializer(ConstTensor.vector(0).toProto("i0"));
        g.addInitializer(ConstTensor.vector(1).toProto("i1"));
        g.addInitializer(ConstTensor.vector(2).toProto("i2"));
        g.addInitializer(ConstTensor.vector(3).toProto("i3"));
        String shape = g.addNode("Shape", List.of("x"));
        String b = g.addNode("Slice", List.of(shape, "i0", "i1"));
        String sh = g.addNode("Slice", List.of(shape, "i1", "i3"));
        String prod = g.addNode("ReduceProd", List.of(sh), Attributes.of("keepdims", 1L));
        String target = g.addNode("Concat", List.of(b, prod), Attributes.of("axis", 0L));
        String r = g.addNode("Reshape", List.of("x", target));
        String id = g.addNode("Identity", List.of(r));
        String y = g.addNode("Softmax", List.of(id), Attributes.of("axis", -1L));
        g.addOutput(GraphBuilder.tensorInfo(y, F, List.of("batch", "features")));
        ModelProto before = g.build(false);
        ModelProto after = StaticGraphOptimizer.optimize(before, null);
        assertEquals(Map.of("Reshape", 1, "Softmax", 1), OpCounts.of(after));
        assertEquals(List.of(), StaticGraphOptimizer.staticProblems(after));
        assertEquals(List.of(), GraphChecker.check(after, null));
        assertEquals(TensorType.of(F, 2, 12), TensorType.fromValueInfo(after.getGraph().getOutput(0)));
        assertEquals(1, after.getGraph().getValueInfoCount());
        assertSameOutputs(before, after, Map.of("x", OpCase.random(F, 2, 3, 4)));
    }

    @Test
    void multiHeadAttentionWithAnEmptyPastDropsIt() {
        GraphBuilder g = new GraphBuilder("mha", 14);
        g.importOpset("com.microsoft", 1);
        for (String name : List.of("q", "k", "v")) {
            g.addInput(GraphBuilder.tensorInfo(name, F, new long[] {1, 3, 8}));
        }
        g.addInput(GraphBuilder.tensorInfo("past_key", F, new long[] {1, 2, 0, 4}));
        g.addInput(GraphBuilder.tensorInfo("past_value", F, new long[] {1, 2, 0, 4}));
        List<String> outs = g.addNode("com.microsoft", "MultiHeadAttention",
                List.of("q", "k", "v", "", "", "", "past_key", "past_value"), 3, Attributes.of("num_heads", 2L));
        g.addOutput(GraphBuilder.tensorInfo(outs.get(0), F, new long[] {1, 3, 8}));
        g.addOutput(GraphBuilder.tensorInfo(outs.get(1), F, new long[] {1, 2, 3, 4}));
        g.addOutput(GraphBuilder.tensorInfo(outs.get(2), F, new long[] {1, 2, 3, 4}));
        ModelProto before = g.build(false);
        ModelProto after = StaticGraphOptimizer.optimize(before, null,
                StaticGraphOptimizer.Options.DEFAULT.withDropUnusedInputs(true));
        assertEquals(3, after.getGraph().getInputCount(), "the empty past inputs are gone");
        Map<String, ConstTensor> feeds = new java.util.HashMap<>(Map.of("q", OpCase.random(F, 1, 3, 8),
                "k", OpCase.random(F, 1, 3, 8), "v", OpCase.random(F, 1, 3, 8)));
        Map<String, ConstTensor> withPast = new java.util.HashMap<>(feeds);
        withPast.put("past_key", ConstTensor.ofDoubles(F, new long[] {1, 2, 0, 4}, new double[0]));
        withPast.put("past_value", ConstTensor.ofDoubles(F, new long[] {1, 2, 0, 4}, new double[0]));
        Map<String, ConstTensor> a = OrtRunner.run(before, dir, withPast);
        Map<String, ConstTensor> b = OrtRunner.run(after, dir, feeds);
        for (String k : a.keySet()) {
            ConstantFoldingTest.assertClose(a.get(k), b.get(k));
        }
    }

    @Test
    void optimizerRefusesWhatCannotBeMadeStatic() {
        GraphBuilder g = new GraphBuilder("nz", 13);
        g.addInput(GraphBuilder.tensorInfo("x", I64, new long[] {4}));
        String y = g.addNode("NonZero", List.of("x"));
        g.addOutput(GraphBuilder.tensorInfo(y, I64, List.of(1, "n")));
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> StaticGraphOptimizer.optimize(g.build(false), null));
        assertTrue(e.getMessage().contains("NonZero"), e.getMessage());
    }
}
