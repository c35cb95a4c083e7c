package dev.stepwise.runtime.onnx.passes;

import static dev.stepwise.runtime.onnx.passes.OpCase.B;
import static dev.stepwise.runtime.onnx.passes.OpCase.F;
import static dev.stepwise.runtime.onnx.passes.OpCase.H;
import static dev.stepwise.runtime.onnx.passes.OpCase.I32;
import static dev.stepwise.runtime.onnx.passes.OpCase.I64;
import static dev.stepwise.runtime.onnx.passes.OpCase.assertDims;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every supported op: the inferred output types equal the ones ONNX Runtime produces. */
class ShapeInferenceTest {
    @TempDir
    Path dir;

    private static ConstTensor ints(long... v) {
        return ConstTensor.vector(v);
    }

    private static ConstTensor scalar(long v) {
        return ConstTensor.int64(new long[0], v);
    }

    @Test
    void elementwiseUnaryOps() {
        for (String op : List.of("Neg", "Abs", "Exp", "Erf", "Tanh", "Sigmoid", "Relu", "Sin", "Cos", "Floor",
                "Reciprocal", "Identity")) {
            assertDims(OpCase.op(op).in(F, 2, 3).checkShapes(dir).get(0), 2, 3);
        }
        assertDims(OpCase.op("Sqrt").in(ConstTensor.ofDoubles(F, new long[] {3}, new double[] {1, 4, 9}))
                .checkShapes(dir).get(0), 3);
        assertEquals(B, OpCase.op("Not").in(B, 4).checkShapes(dir).get(0).elemType());
        assertEquals(I64, OpCase.op("Cast").in(F, 2, 2).attr(Attributes.of("to", (long) I64)).checkShapes(dir).get(0)
                .elemType());
        assertDims(OpCase.op("Softmax").in(F, 2, 3, 5).attr(Attributes.of("axis", -1L)).checkShapes(dir).get(0), 2, 3, 5);
        assertDims(OpCase.op("CumSum").in(F, 2, 3).constant(scalar(1)).checkShapes(dir).get(0), 2, 3);
        assertDims(OpCase.op("Trilu").in(F, 4, 4).constant(scalar(0)).attr(Attributes.of("upper", 0L))
                .checkShapes(dir).get(0), 4, 4);
    }

    @Test
    void broadcastingAndComparisonOps() {
        for (String op : List.of("Add", "Sub", "Mul", "Div", "Max", "Min")) {
            assertDims(OpCase.op(op).in(F, 2, 1, 4).in(F, 3, 1).checkShapes(dir).get(0), 2, 3, 4);
        }
        assertDims(OpCase.op("Pow").in(F, 2, 3).in(F).checkShapes(dir).get(0), 2, 3);
        for (String op : List.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")) {
            TensorType t = OpCase.op(op).in(I64, 2, 1).in(I64, 1, 5).checkShapes(dir).get(0);
            assertEquals(B, t.elemType());
            assertDims(t, 2, 5);
        }
        assertDims(OpCase.op("And").in(B, 3, 1).in(B, 4).checkShapes(dir).get(0), 3, 4);
        assertDims(OpCase.op("Or").in(B, 3, 1).in(B, 4).checkShapes(dir).get(0), 3, 4);
        assertDims(OpCase.op("Where").in(B, 3, 1).in(H, 1, 4).in(H, 2, 3, 4).checkShapes(dir).get(0), 2, 3, 4);
    }

    @Test
    void matrixOpsAndNorms() {
        assertDims(OpCase.op("MatMul").in(F, 2, 3, 4).in(F, 4, 5).checkShapes(dir).get(0), 2, 3, 5);
        assertDims(OpCase.op("MatMul").in(F, 4).in(F, 2, 4, 5).checkShapes(dir).get(0), 2, 5);
        assertDims(OpCase.op("MatMul").in(F, 2, 1, 3, 4).in(F, 5, 4, 6).checkShapes(dir).get(0), 2, 5, 3, 6);
        assertDims(OpCase.op("Gemm").in(F, 3, 4).in(F, 5, 4).in(F, 5).attr(Attributes.of("transB", 1L))
                .checkShapes(dir).get(0), 3, 5);
        List<TensorType> ln = OpCase.op("LayerNormalization").in(F, 2, 3, 8).in(F, 8).in(F, 8).outputs(3)
                .checkShapes(dir);
        assertDims(ln.get(0), 2, 3, 8);
        assertDims(ln.get(1), 2, 3, 1);
        List<TensorType> rms = OpCase.op("SimplifiedLayerNormalization").opset(14).in(H, 2, 3, 8).in(H, 8)
                .attr(Attributes.of("epsilon", 1e-6f)).checkShapes(dir);
        assertDims(rms.get(0), 2, 3, 8);
    }

    @Test
    void reductions() {
        assertDims(OpCase.op("ReduceMean").opset(13).in(F, 2, 3, 4).attr(Attributes.ints("axes", -1L))
                .checkShapes(dir).get(0), 2, 3, 1);
        assertDims(OpCase.op("ReduceMean").opset(18).in(F, 2, 3, 4).constant(ints(0, 2))
                .attr(Attributes.of("keepdims", 0L)).checkShapes(dir).get(0), 3);
        assertDims(OpCase.op("ReduceSum").opset(13).in(F, 2, 3, 4).constant(ints(1)).checkShapes(dir).get(0),
                2, 1, 4);
        assertDims(OpCase.op("ReduceMax").opset(13).in(F, 2, 3, 4).attr(Attributes.of("keepdims", 0L))
                .checkShapes(dir).get(0));
        assertDims(OpCase.op("ArgMax").in(F, 2, 3, 4).attr(Attributes.of("axis", 1L)).checkShapes(dir).get(0), 2, 1, 4);
    }

    @Test
    void layoutOps() {
        assertDims(OpCase.op("Reshape").in(F, 2, 3, 4).constant(ints(0, -1, 2)).checkShapes(dir).get(0), 2, 6, 2);
        assertDims(OpCase.op("Reshape").opset(14).in(F, 0, 4).constant(ints(0, 4)).attr(Attributes.of("allowzero", 1L))
                .checkShapes(dir).get(0), 0, 4);
        assertDims(OpCase.op("Transpose").in(F, 2, 3, 4).attr(Attributes.ints("perm", 0, 2, 1)).checkShapes(dir).get(0),
                2, 4, 3);
        assertDims(OpCase.op("Transpose").in(F, 2, 3, 4).checkShapes(dir).get(0), 4, 3, 2);
        assertDims(OpCase.op("Flatten").in(F, 2, 3, 4).attr(Attributes.of("axis", 2L)).checkShapes(dir).get(0), 6, 4);
        assertDims(OpCase.op("Concat").in(F, 2, 3).in(F, 2, 5).attr(Attributes.of("axis", -1L)).checkShapes(dir).get(0),
                2, 8);
        List<TensorType> split = OpCase.op("Split").opset(13).in(F, 2, 9).constant(ints(2, 7)).outputs(2)
                .attr(Attributes.of("axis", 1L)).checkShapes(dir);
        assertDims(split.get(1), 2, 7);
        List<TensorType> split11 = OpCase.op("Split").opset(11).in(F, 6, 2).outputs(3).checkShapes(dir);
        assertDims(split11.get(2), 2, 2);
        List<TensorType> split12 = OpCase.op("Split").opset(12).in(F, 6, 2).attr(Attributes.ints("split", 1, 5))
                .outputs(2).checkShapes(dir);
        assertDims(split12.get(1), 5, 2);
        assertDims(OpCase.op("Slice").opset(13).in(F, 5, 6, 7).constant(ints(1, -1, Long.MAX_VALUE))
                .constant(ints(4, -100, 2)).constant(ints(0, 1, 2)).constant(ints(1, -2, 1))
                .checkShapes(dir).get(0), 3, 3, 0);
        assertDims(OpCase.op("Slice").opset(13).in(F, 5, 6).constant(ints(-2)).constant(ints(Long.MAX_VALUE))
                .checkShapes(dir).get(0), 2, 6);
        assertDims(OpCase.op("Gather").in(F, 5, 6, 7).constant(ConstTensor.int64(new long[] {2, 3}, 0, 1, 2, 3, 4, -1))
                .attr(Attributes.of("axis", 1L)).checkShapes(dir).get(0), 5, 2, 3, 7);
        assertDims(OpCase.op("Gather").in(I64, 4).constant(scalar(2)).checkShapes(dir).get(0));
        assertDims(OpCase.op("GatherElements").in(F, 3, 4).constant(ConstTensor.int64(new long[] {3, 2}, 0, 1, 2, 3, 0, 1))
                .attr(Attributes.of("axis", 1L)).checkShapes(dir).get(0), 3, 2);
        assertDims(OpCase.op("Unsqueeze").opset(13).in(F, 2, 3).constant(ints(0, -1)).checkShapes(dir).get(0),
                1, 2, 3, 1);
        assertDims(OpCase.op("Unsqueeze").opset(11).in(F, 2, 3).attr(Attributes.ints("axes", 1)).checkShapes(dir)
                .get(0), 2, 1, 3);
        assertDims(OpCase.op("Squeeze").opset(13).in(F, 1, 3, 1).constant(ints(-1)).checkShapes(dir).get(0), 1, 3);
        assertDims(OpCase.op("Squeeze").opset(11).in(F, 1, 3, 1).checkShapes(dir).get(0), 3);
        assertDims(OpCase.op("Expand").in(F, 3, 1).constant(ints(2, 1, 4)).checkShapes(dir).get(0), 2, 3, 4);
        assertDims(OpCase.op("Tile").in(F, 2, 3).constant(ints(2, 1)).checkShapes(dir).get(0), 4, 3);
        assertDims(OpCase.op("Pad").in(F, 2, 3).constant(ints(0, 1, 1, 2)).checkShapes(dir).get(0), 3, 6);
        assertDims(OpCase.op("ScatterND").in(F, 4, 3).constant(ConstTensor.int64(new long[] {2, 1}, 0, 2))
                .in(F, 2, 3).checkShapes(dir).get(0), 4, 3);
        assertDims(OpCase.op("Einsum").in(F, 2, 3, 4).in(F, 2, 4, 5)
                .attr(Attributes.of("equation", "bij,bjk->bik")).checkShapes(dir).get(0), 2, 3, 5);
        assertDims(OpCase.op("Einsum").in(F, 2, 3).attr(Attributes.of("equation", "ij->ji")).checkShapes(dir).get(0),
                3, 2);
        List<TensorType> topk = OpCase.op("TopK").in(F, 2, 7).constant(ints(3)).outputs(2).checkShapes(dir);
        assertDims(topk.get(1), 2, 3);
    }

    @Test
    void shapeOps() {
        TensorType shape = OpCase.op("Shape").in(F, 2, 3, 4).checkShapes(dir).get(0);
        assertEquals(I64, shape.elemType());
        assertDims(shape, 3);
        assertDims(OpCase.op("Shape").opset(15).in(F, 2, 3, 4, 5).attr(Attributes.of("start", 1L))
                .attr(Attributes.of("end", -1L)).checkShapes(dir).get(0), 2);
        assertDims(OpCase.op("Size").in(F, 2, 3).checkShapes(dir).get(0));
        TensorType cos = OpCase.op("ConstantOfShape").constant(ints(2, 3))
                .attr(Attributes.of("value", ConstTensor.ofLongs(I64, new long[] {1}, new long[] {7}).toProto("v")))
                .checkShapes(dir).get(0);
        assertEquals(I64, cos.elemType());
        assertDims(cos, 2, 3);
        assertDims(OpCase.op("Range").constant(scalar(2)).constant(scalar(11)).constant(scalar(3)).checkShapes(dir)
                .get(0), 3);
        assertDims(OpCase.op("Range").constant(ConstTensor.scalar(F, 0)).constant(ConstTensor.scalar(F, 1))
                .constant(ConstTensor.scalar(F, 0.3)).checkShapes(dir).get(0), 4);
        assertDims(OpCase.op("Constant").attr(Attributes.of("value", ints(1, 2, 3).toProto("v"))).checkShapes(dir)
                .get(0), 3);
        assertDims(OpCase.op("Constant").attr(Attributes.ints("value_ints", 4, 5)).checkShapes(dir).get(0), 2);
    }

    @Test
    void contribAttentionOps() {
        // MultiHeadAttention with a past of 3: present grows to 3 + 4
        List<TensorType> mha = OpCase.ms("MultiHeadAttention").in(F, 2, 4, 16).in(F, 2, 4, 16).in(F, 2, 4, 16)
                .none().none().in(F, 2, 1, 4, 7).in(F, 2, 2, 3, 8).in(F, 2, 2, 3, 8).outputs(3)
                .attr(Attributes.of("num_heads", 2L)).checkShapes(dir);
        assertDims(mha.get(0), 2, 4, 16);
        assertDims(mha.get(1), 2, 2, 7, 8);
        // the same with fp16 and an empty past (prefill)
        List<TensorType> prefill = OpCase.ms("MultiHeadAttention").in(H, 1, 5, 16).in(H, 1, 5, 16).in(H, 1, 5, 16)
                .none().none().none().in(H, 1, 1, 0, 16).in(H, 1, 1, 0, 16).outputs(3)
                .attr(Attributes.of("num_heads", 1L)).checkShapes(dir);
        assertDims(prefill.get(2), 1, 1, 5, 16);
        ConstTensor positions = ConstTensor.int64(new long[] {2, 3}, 0, 1, 2, 5, 6, 7);
        assertDims(OpCase.ms("RotaryEmbedding").in(F, 2, 3, 16).in(positions).in(F, 16, 4).in(F, 16, 4)
                .attr(Attributes.of("num_heads", 2L)).checkShapes(dir).get(0), 2, 3, 16);
        List<TensorType> gqa = OpCase.ms("GroupQueryAttention").in(F, 1, 3, 32).in(F, 1, 3, 16).in(F, 1, 3, 16)
                .in(F, 1, 2, 0, 8).in(F, 1, 2, 0, 8)
                .constant(ConstTensor.ofLongs(I32, new long[] {1}, new long[] {2}))
                .constant(ConstTensor.ofLongs(I32, new long[0], new long[] {3})).outputs(3)
                .attr(Attributes.of("num_heads", 4L)).attr(Attributes.of("kv_num_heads", 2L)).checkShapes(dir);
        assertDims(gqa.get(0), 1, 3, 32);
        assertDims(gqa.get(1), 1, 2, 3, 8);
        ConstTensor mask = ConstTensor.ofLongs(I32, new long[] {2, 5}, new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
        List<TensorType> att = OpCase.ms("Attention").in(F, 2, 2, 8).in(F, 8, 24).in(F, 24).in(mask)
                .in(F, 2, 2, 2, 3, 4).outputs(2).attr(Attributes.of("num_heads", 2L))
                .attr(Attributes.of("unidirectional", 1L)).checkShapes(dir);
        assertDims(att.get(0), 2, 2, 8);
        assertDims(att.get(1), 2, 2, 2, 5, 4);
    }

    @Test
    void contribNormAndActivationOps() {
        ConstTensor ids = ConstTensor.ofLongs(I32, new long[] {2, 3}, new long[] {0, 1, 2, 3, 4, 5});
        ConstTensor mask = ConstTensor.ofLongs(I32, new long[] {2, 3}, new long[] {1, 1, 1, 1, 1, 1});
        List<TensorType> embed = OpCase.ms("EmbedLayerNormalization").in(ids).none().in(F, 10, 8).in(F, 16, 8)
                .none().in(F, 8).in(F, 8).in(mask).outputs(2).checkShapes(dir);
        assertDims(embed.get(0), 2, 3, 8);
        assertEquals(I32, embed.get(1).elemType());
        assertDims(embed.get(1), 2);
        List<TensorType> skip = OpCase.ms("SkipLayerNormalization").in(F, 2, 3, 8).in(F, 2, 3, 8).in(F, 8).in(F, 8)
                .in(F, 8).outputs(4).skipOutput(1).skipOutput(2).checkShapes(dir);
        assertDims(skip.get(3), 2, 3, 8);
        List<TensorType> skipRms = OpCase.ms("SkipSimplifiedLayerNormalization").in(H, 2, 3, 8).in(H, 2, 3, 8)
                .in(H, 8).outputs(4).skipOutput(1).skipOutput(2).attr(Attributes.of("epsilon", 1e-6f))
                .checkShapes(dir);
        assertDims(skipRms.get(0), 2, 3, 8);
        assertDims(OpCase.ms("FastGelu").in(F, 2, 3, 8).in(F, 8).checkShapes(dir).get(0), 2, 3, 8);
        assertDims(OpCase.ms("BiasGelu").in(F, 2, 3, 8).in(F, 8).checkShapes(dir).get(0), 2, 3, 8);
        assertDims(OpCase.ms("Gelu").in(F, 2, 3, 8).checkShapes(dir).get(0), 2, 3, 8);
    }

    @Test
    void shapeArithmeticIsResolvedThroughConstants() {
        // Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): the target is only known by folding
        GraphBuilder g = new GraphBuilder("g", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {3, 4, 5}));
        g.addInitializer(ConstTensor.scalar(I64, 0).toProto("zero"));
        g.addInitializer(ints(0).toProto("axes"));
        g.addInitializer(ints(-1).toProto("minus1"));
        String shape = g.addNode("Shape", List.of("x"));
        String first = g.addNode("Gather", List.of(shape, "zero"));
        String dim = g.addNode("Unsqueeze", List.of(first, "axes"));
        String target = g.addNode("Concat", List.of(dim, "minus1"), Attributes.of("axis", 0L));
        String y = g.addNode("Reshape", List.of("x", target));
        g.addOutput(GraphBuilder.tensorInfo(y, F, List.of("a", "b")));
        var types = ShapeInference.infer(g.build(false), null);
        assertDims(types.get(y), 3, 20);
        ModelProto annotated = ShapeInference.annotate(g.build(false), null);
        assertEquals(4, annotated.getGraph().getValueInfoCount());
        assertEquals(TensorType.of(F, 3, 20), TensorType.fromValueInfo(annotated.getGraph().getOutput(0)));
    }

    @Test
    void errorsNameTheOpAndNode() {
        GraphBuilder g = new GraphBuilder("g", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2}));
        String y = g.addNode("com.example", "Mystery", List.of("x"), 1).get(0);
        g.importOpset("com.example", 1);
        g.addOutput(GraphBuilder.tensorInfo(y, F, new long[] {2}));
        StepwiseException e = assertThrows(StepwiseException.class, () -> ShapeInference.infer(g.build(false), null));
        assertTrue(e.getMessage().contains("com.example.Mystery") && e.getMessage().contains("/Mystery"),
                e.getMessage());

        GraphBuilder d = new GraphBuilder("d", 13);
        d.addInput(GraphBuilder.tensorInfo("x", F, List.of("batch", 4)));
        String z = d.addNode("Relu", List.of("x"));
        d.addOutput(GraphBuilder.tensorInfo(z, F, List.of("batch", 4)));
        StepwiseException dynamic = assertThrows(StepwiseException.class, () -> ShapeInference.infer(d.build(false), null));
        assertTrue(dynamic.getMessage().contains("'x'") && dynamic.getMessage().contains("batch"), dynamic.getMessage());

        GraphBuilder r = new GraphBuilder("r", 13);
        r.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 3}));
        r.addInput(GraphBuilder.tensorInfo("shape", I64, new long[] {2}));
        String w = r.addNode("Reshape", List.of("x", "shape"));
        r.addOutput(GraphBuilder.tensorInfo(w, F, List.of("a", "b")));
        StepwiseException notConstant = assertThrows(StepwiseException.class,
                () -> ShapeInference.infer(r.build(false), null));
        assertTrue(notConstant.getMessage().contains("Reshape") && notConstant.getMessage().contains("not a constant"),
                notConstant.getMessage());
    }

    @Test
    void ifWithConstantConditionTakesItsBranch() {
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(NodeProto.newBuilder().setOpType("Unsqueeze").addInput("x").addInput("axes").addOutput("t"))
                .addOutput(GraphBuilder.tensorInfo("t", F, List.of())).build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(NodeProto.newBuilder().setOpType("Identity").addInput("x").addOutput("e"))
                .addOutput(GraphBuilder.tensorInfo("e", F, List.of())).build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(GraphProto.newBuilder().setName("g")
                        .addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 3}))
                        .addInitializer(ConstTensor.ofLongs(B, new long[] {1}, new long[] {1}).toProto("cond"))
                        .addInitializer(ints(0).toProto("axes"))
                        .addNode(NodeProto.newBuilder().setOpType("If").addInput("cond").addOutput("y")
                                .addAttribute(dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto.newBuilder()
                                        .setName("then_branch").setType(
                                                dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto.AttributeType.GRAPH)
                                        .setG(thenBranch))
                                .addAttribute(dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto.newBuilder()
                                        .setName("else_branch").setType(
                                                dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto.AttributeType.GRAPH)
                                        .setG(elseBranch)))
                        .addOutput(GraphBuilder.tensorInfo("y", F, List.of()))).build();
        assertDims(ShapeInference.infer(m, null).get("y"), 1, 2, 3);
    }
}
