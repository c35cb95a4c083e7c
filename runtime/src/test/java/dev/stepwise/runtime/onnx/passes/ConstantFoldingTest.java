package dev.stepwise.runtime.onnx.passes;

import static dev.stepwise.runtime.onnx.passes.OpCase.B;
import static dev.stepwise.runtime.onnx.passes.OpCase.F;
import static dev.stepwise.runtime.onnx.passes.OpCase.H;
import static dev.stepwise.runtime.onnx.passes.OpCase.I32;
import static dev.stepwise.runtime.onnx.passes.OpCase.I64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Folded values equal what ONNX Runtime computes for the same node; Shape arithmetic disappears; the cap holds. */
class ConstantFoldingTest {
    @TempDir
    Path dir;

    private static ConstTensor ints(long... v) {
        return ConstTensor.vector(v);
    }

    private static ConstTensor scalar(long v) {
        return ConstTensor.int64(new long[0], v);
    }

    private static ConstTensor floats(long[] dims, double... v) {
        return ConstTensor.ofDoubles(F, dims, v);
    }

    @Test
    void arithmeticAndLogicMatchOnnxRuntime() {
        for (String op : List.of("Add", "Sub", "Mul", "Div", "Max", "Min", "Pow")) {
            OpCase.op(op).in(F, 2, 3).in(F, 3).checkFolding(dir);
        }
        for (String op : List.of("Add", "Sub", "Mul", "Max", "Min")) {
            OpCase.op(op).in(I64, 2, 3).in(I64, 1).checkFolding(dir);
        }
        OpCase.op("Div").in(ints(7, -7, 9)).in(ints(2, 2, -4)).checkFolding(dir);
        OpCase.op("Mod").in(ints(7, -7, 9)).in(ints(3, 3, -4)).checkFolding(dir);
        OpCase.op("Sub").in(H, 4).in(H, 4).checkFolding(dir);
        for (String op : List.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")) {
            OpCase.op(op).in(I64, 2, 3).in(I64, 3).checkFolding(dir);
        }
        OpCase.op("Equal").in(F, 4).in(F, 4).checkFolding(dir);
        OpCase.op("And").in(B, 2, 2).in(B, 2).checkFolding(dir);
        OpCase.op("Or").in(B, 3).in(B, 3).checkFolding(dir);
        OpCase.op("Not").in(B, 5).checkFolding(dir);
        OpCase.op("Where").in(B, 2, 1).in(F, 3).in(F, 2, 3).checkFolding(dir);
        OpCase.op("Where").in(B, 4).in(scalar(5)).in(I64, 4).checkFolding(dir);
        for (String op : List.of("Neg", "Abs", "Exp", "Tanh", "Sigmoid", "Erf", "Relu", "Floor", "Ceil", "Sin", "Cos")) {
            OpCase.op(op).in(F, 6).checkFolding(dir);
        }
        OpCase.op("Sqrt").in(floats(new long[] {3}, 1, 2, 9)).checkFolding(dir);
        OpCase.op("Neg").in(I64, 3).checkFolding(dir);
    }

    @Test
    void castsMatchOnnxRuntime() {
        OpCase.op("Cast").in(floats(new long[] {4}, 1.7, -1.7, 0, 3)).attr(Attributes.of("to", (long) I64))
                .checkFolding(dir);
        OpCase.op("Cast").in(ints(0, 1, 5)).attr(Attributes.of("to", (long) B)).checkFolding(dir);
        OpCase.op("Cast").in(ints(1, 2, 70000)).attr(Attributes.of("to", (long) H)).checkFolding(dir);
        OpCase.op("Cast").in(F, 5).attr(Attributes.of("to", (long) H)).checkFolding(dir);
        OpCase.op("Cast").in(ints(3, -1)).attr(Attributes.of("to", (long) I32)).checkFolding(dir);
    }

    @Test
    void layoutOpsMatchOnnxRuntime() {
        OpCase.op("Gather").in(F, 4, 3).in(ConstTensor.int64(new long[] {2, 2}, 0, 3, -1, 1)).checkFolding(dir);
        OpCase.op("Gather").in(I64, 2, 5).in(scalar(-2)).attr(Attributes.of("axis", 1L)).checkFolding(dir);
        OpCase.op("GatherElements").in(F, 3, 4).in(ConstTensor.int64(new long[] {3, 2}, 0, 3, 2, 1, 0, 0))
                .attr(Attributes.of("axis", 1L)).checkFolding(dir);
        OpCase.op("Slice").opset(13).in(F, 5, 6).in(ints(1, -1)).in(ints(Long.MAX_VALUE, 0)).in(ints(0, 1))
                .in(ints(2, -2)).checkFolding(dir);
        OpCase.op("Concat").in(I64, 2).in(I64, 1).in(I64, 3).attr(Attributes.of("axis", 0L)).checkFolding(dir);
        OpCase.op("Concat").in(F, 2, 1).in(F, 2, 3).attr(Attributes.of("axis", 1L)).checkFolding(dir);
        OpCase.op("Unsqueeze").opset(13).in(I64).in(ints(0)).checkFolding(dir);
        OpCase.op("Squeeze").opset(13).in(F, 1, 3).in(ints(0)).checkFolding(dir);
        OpCase.op("Reshape").in(F, 2, 6).in(ints(3, -1)).checkFolding(dir);
        OpCase.op("Transpose").in(F, 2, 3, 4).attr(Attributes.ints("perm", 2, 0, 1)).checkFolding(dir);
        OpCase.op("Expand").in(F, 3, 1).in(ints(2, 3, 4)).checkFolding(dir);
        OpCase.op("Tile").in(I64, 2, 3).in(ints(2, 2)).checkFolding(dir);
        OpCase.op("Split").opset(13).in(F, 2, 7).in(ints(3, 4)).attr(Attributes.of("axis", 1L)).outputs(2)
                .checkFolding(dir);
        OpCase.op("Trilu").in(F, 3, 4).in(scalar(1)).checkFolding(dir);
        OpCase.op("Trilu").in(I64, 2, 4, 4).attr(Attributes.of("upper", 0L)).checkFolding(dir);
        OpCase.op("CumSum").in(I64, 2, 4).in(scalar(1)).checkFolding(dir);
        OpCase.op("CumSum").in(F, 5).in(scalar(0)).attr(Attributes.of("exclusive", 1L))
                .attr(Attributes.of("reverse", 1L)).checkFolding(dir);
        OpCase.op("ReduceSum").opset(13).in(F, 2, 3, 4).in(ints(1)).checkFolding(dir);
        OpCase.op("ReduceMax").opset(13).in(I64, 2, 3).attr(Attributes.ints("axes", 0))
                .attr(Attributes.of("keepdims", 0L)).checkFolding(dir);
        OpCase.op("ReduceMean").opset(13).in(F, 2, 3).checkFolding(dir);
        OpCase.op("MatMul").in(F, 2, 3, 4).in(F, 4, 2).checkFolding(dir);
    }

    @Test
    void shapeProducersMatchOnnxRuntime() {
        OpCase.op("Shape").in(F, 2, 3, 4).checkFolding(dir);
        OpCase.op("Shape").opset(15).in(F, 2, 3, 4).attr(Attributes.of("start", -2L)).checkFolding(dir);
        OpCase.op("Size").in(F, 2, 3, 4).checkFolding(dir);
        OpCase.op("ConstantOfShape").in(ints(2, 3))
                .attr(Attributes.of("value", ConstTensor.ofDoubles(H, new long[] {1}, new double[] {-65504})
                        .toProto("v"))).checkFolding(dir);
        OpCase.op("ConstantOfShape").in(ints(3)).checkFolding(dir);
        OpCase.op("Range").in(scalar(0)).in(scalar(7)).in(scalar(2)).checkFolding(dir);
        OpCase.op("Range").in(scalar(5)).in(scalar(-1)).in(scalar(-2)).checkFolding(dir);
        OpCase.op("Range").in(ConstTensor.scalar(F, 0.5)).in(ConstTensor.scalar(F, 2)).in(ConstTensor.scalar(F, 0.5))
                .checkFolding(dir);
        OpCase.op("Constant").attr(Attributes.of("value", ints(4, 5).toProto("v"))).checkFolding(dir);
        OpCase.op("Constant").attr(Attributes.of("value_float", 2.5f)).checkFolding(dir);
    }

    @Test
    void shapeArithmeticFoldsAwayAndOutputsStayTheSame() {
        // a causal mask built the way dynamic exports build it: from Shape, Range, Less, Where
        GraphBuilder g = new GraphBuilder("mask", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 8, 8}));
        g.addInitializer(scalar(0).toProto("zero"));
        g.addInitializer(scalar(1).toProto("one"));
        g.addInitializer(ints(0).toProto("axis0"));
        g.addInitializer(ConstTensor.scalar(F, -1e4).toProto("neg"));
        g.addInitializer(ConstTensor.scalar(F, 0).toProto("fzero"));
        String shape = g.addNode("Shape", List.of("x"));
        String len = g.addNode("Gather", List.of(shape, "one"));
        String range = g.addNode("Range", List.of("zero", len, "one"));
        String col = g.addNode("Unsqueeze", List.of(range, "axis0"));
        String row = g.addNode("Unsqueeze", List.of(range, "one"));
        String future = g.addNode("Less", List.of(row, col));
        String mask = g.addNode("Where", List.of(future, "neg", "fzero"));
        String y = g.addNode("Add", List.of("x", mask));
        g.addOutput(GraphBuilder.tensorInfo(y, F, new long[] {2, 8, 8}));
        ModelProto before = g.build(false);
        ConstantFolding.Result r = ConstantFolding.run(before, null, 1 << 20);
        ModelProto after = DeadCodeElimination.apply(r.model());
        assertEquals(7, r.foldedNodes());
        assertEquals(Map.of("Add", 1), OpCounts.of(after));
        ConstTensor x = OpCase.random(F, 2, 8, 8);
        assertClose(OrtRunner.run(before, dir, Map.of("x", x)).get(y), OrtRunner.run(after, dir, Map.of("x", x)).get(y));
    }

    @Test
    void theCapKeepsLargeTensorsUnfolded() {
        GraphBuilder g = new GraphBuilder("big", 13);
        g.addInitializer(ints(1024, 2048).toProto("shape"));
        String big = g.addNode("ConstantOfShape", List.of("shape"));
        String y = g.addNode("ReduceSum", List.of(big), Attributes.of("keepdims", 0L));
        g.addOutput(GraphBuilder.tensorInfo(y, F, new long[0]));
        ConstantFolding.Result r = ConstantFolding.run(g.build(false), null, 1 << 20);
        assertEquals(0, r.foldedNodes());
        ConstantFolding.Result small = ConstantFolding.run(g.build(false), null, 1L << 22);
        assertEquals(2, small.foldedNodes());
    }

    @Test
    void runtimeInputsAreNeverFolded() {
        GraphBuilder g = new GraphBuilder("in", 13);
        g.addInput(GraphBuilder.tensorInfo("x", I64, new long[] {3}));
        g.addInitializer(ints(1, 2, 3).toProto("c"));
        String y = g.addNode("Add", List.of("x", "c"));
        g.addOutput(GraphBuilder.tensorInfo(y, I64, new long[] {3}));
        assertEquals(0, ConstantFolding.run(g.build(false), null, 1 << 20).foldedNodes());
    }

    static void assertClose(ConstTensor want, ConstTensor got) {
        assertEquals(want.type(), got.type());
        double[] a = want.toDoubles();
        double[] b = got.toDoubles();
        for (int i = 0; i < a.length; i++) {
            assertTrue(Math.abs(a[i] - b[i]) <= 1e-5 * Math.max(1, Math.abs(a[i])), i + ": " + a[i] + " vs " + b[i]);
        }
    }
}
