package dev.stepwise.runtime.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The graph plumbing of the loop builder: initializers hoisted out of nested subgraphs, one definition per name. */
class LoopGraphPartsTest {

    private static GraphProto branch(String name, String constant, String outer) {
        GraphBuilder b = new GraphBuilder(name, 14);
        Nodes n = new Nodes(b, constant);
        b.push(name);
        String out = n.op("Add", n.outer(outer), n.i64(1));
        b.addOutput(GraphBuilder.tensorInfo(out, 7, List.of()));
        return b.buildGraph(false);
    }

    @Test
    void hoistMovesEveryNestedInitializerOut() {
        GraphBuilder body = new GraphBuilder("body", 14);
        Nodes n = new Nodes(body, "body");
        body.addInput(GraphBuilder.tensorInfo("x", 7, List.of()));
        String c = n.i64(5);
        String sum = n.op("Add", "x", c);
        String chosen = n.op("If", List.of(n.op("Greater", sum, n.i64(0))),
                Nodes.graphAttribute("then_branch", branch("then", "a", sum)),
                Nodes.graphAttribute("else_branch", branch("else", "b", sum)));
        body.addOutput(GraphBuilder.tensorInfo(chosen, 7, List.of()));
        GraphProto g = body.buildGraph(false);
        assertEquals(2, g.getInitializerCount(), "5 and 0");

        List<TensorProto> out = new ArrayList<>();
        GraphProto hoisted = LoopGraphBuilder.hoist(g, out);
        assertEquals(List.of("body_i64_5", "body_i64_0", "a_i64_1", "b_i64_1"),
                out.stream().map(TensorProto::getName).toList(), "the body's two, then one per branch");
        assertEquals(0, hoisted.getInitializerCount());
        NodeProto ifNode = hoisted.getNodeList().stream().filter(x -> x.getOpType().equals("If")).findFirst().orElseThrow();
        ifNode.getAttributeList().forEach(a -> assertEquals(0, a.getG().getInitializerCount()));
        assertEquals(g.getNodeCount(), hoisted.getNodeCount());
    }

    @Test
    void aNameDefinedTwiceAnywhereIsAnError() {
        GraphBuilder main = new GraphBuilder("main", 14);
        main.addInput(GraphBuilder.tensorInfo("x", 7, List.of()));
        Nodes n = new Nodes(main, "m");
        String y = n.op("Identity", "x");
        main.addOutput(GraphBuilder.tensorInfo(y, 7, List.of()));
        GraphProto fine = main.buildGraph(false);
        LoopGraphBuilder.checkUniqueNames(fine);

        // a subgraph that defines a value of the same name as the main graph's output
        GraphBuilder sub = new GraphBuilder("sub", 14);
        sub.reserveName("x");
        sub.push("sub");
        String clash = sub.addNode("Identity", List.of("x"));
        sub.renameNodeOutput(clash, y);
        sub.addOutput(GraphBuilder.tensorInfo(y, 7, List.of()));
        GraphProto withSub = fine.toBuilder().addNode(NodeProto.newBuilder().setName("loopish").setOpType("If")
                .addInput("x").addOutput("z").addAttribute(Nodes.graphAttribute("then_branch", sub.buildGraph(false))))
                .build();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> LoopGraphBuilder.checkUniqueNames(withSub));
        assertTrue(e.getMessage().contains(y), e.getMessage());
    }

    // ---- shared weights ----

    private static TensorProto external(String name, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(1)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("model.onnx_data"));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** Records what reaches it. */
    private static final class Recording implements WeightSink {
        final List<String> written = new ArrayList<>();

        @Override
        public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
            written.add(name);
            return TensorProto.newBuilder().setName(name).build();
        }

        @Override
        public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
            written.add(name);
            return TensorProto.newBuilder().setName(name).build();
        }
    }

    @Test
    void sharedSinkReusesMatchingExternalWeightsOnly() {
        TensorProto wte = external("wte", 10, 4);
        TensorProto proj = external("proj.T", 3, 2);
        TensorProto inline = TensorProto.newBuilder().setName("bias").setDataType(1).addDims(4).build();
        ModelProto decoder = ModelProto.newBuilder().setGraph(GraphProto.newBuilder()
                .addInitializer(wte).addInitializer(proj).addInitializer(inline)).build();
        Recording fallback = new Recording();
        SharedWeightSink sink = new SharedWeightSink(decoder, fallback);
        ByteBuffer any = ByteBuffer.allocate(0);

        assertSame(wte, sink.write("wte", DType.FLOAT, new long[] {10, 4}, any));
        assertSame(proj, sink.writeTransposed("proj.T", DType.FLOAT, 2, 3, TensorBytes.of(any)), "a transposed [2, 3] is stored [3, 2]");
        sink.write("wte", DType.FLOAT, new long[] {4, 10}, any);              // other shape
        sink.write("wte", DType.FLOAT16, new long[] {10, 4}, any);            // other type
        sink.write("bias", DType.FLOAT, new long[] {4}, any);                 // inline in the decoder
        sink.write("new", DType.FLOAT, new long[] {1}, any);                  // absent
        assertEquals(2, sink.reusedCount());
        assertEquals(List.of("wte", "wte", "bias", "new"), fallback.written);
    }
}
