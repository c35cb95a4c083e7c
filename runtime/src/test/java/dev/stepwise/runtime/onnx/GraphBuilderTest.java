package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.util.List;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {
    @Test
    void scopedNamesAreReadableAndUnique() {
        GraphBuilder g = new GraphBuilder("g", 13);
        g.addInput(GraphBuilder.tensorInfo("x", 1, new long[] {2}));
        String a;
        String b;
        try (var h = g.scope("h.3")) {
            g.push("attn");
            a = g.addNode("Relu", List.of("x"));
            b = g.addNode("Relu", List.of(a));
            g.pop();
        }
        String c = g.addNode("Relu", List.of(b));
        assertEquals("/h.3/attn/Relu_output_0", a);
        assertEquals("/h.3/attn/Relu_1_output_0", b);
        assertEquals("/Relu_output_0", c);
        assertEquals("/h.3/attn/Relu", g.nodes().get(0).getName());
    }

    @Test
    void nodesMustReadExistingValues() {
        GraphBuilder g = new GraphBuilder("g", 13);
        assertThrows(IllegalStateException.class, () -> g.addNode("Relu", List.of("nope")));
    }

    @Test
    void renamingAnOutputMovesItsValueInfo() {
        GraphBuilder g = new GraphBuilder("g", 17);
        g.addInput(GraphBuilder.tensorInfo("x", 1, new long[] {2}));
        String r = g.addNode("Relu", List.of("x"));
        String s = g.addNode("Neg", List.of("x"));
        g.recordValueInfo(GraphBuilder.tensorInfo(r, 1, new long[] {2}));
        g.recordValueInfo(GraphBuilder.tensorInfo(s, 1, new long[] {2}));
        g.renameNodeOutput(r, "y");
        g.addOutput(GraphBuilder.tensorInfo("y", 1, new long[] {2}));
        g.addOutput(GraphBuilder.tensorInfo(s, 1, new long[] {2}));
        assertThrows(StepwiseException.class, () -> g.reserveName("x"));
        assertThrows(StepwiseException.class, () -> g.addOutput(GraphBuilder.tensorInfo("y", 1, new long[] {2})));

        ModelProto m = g.build(true);
        assertEquals(List.of("y"), m.getGraph().getNode(0).getOutputList());
        assertEquals(0, m.getGraph().getValueInfoCount(), "outputs carry their own types");
        assertEquals(8, m.getIrVersion());
        assertEquals(17, m.getOpsetImport(0).getVersion());
        assertEquals(0, g.build(false).getGraph().getValueInfoCount());
    }

    @Test
    void irVersionFollowsTheOpset() {
        assertEquals(7, GraphBuilder.irVersion(13));
        assertEquals(7, GraphBuilder.irVersion(14));
        assertEquals(8, GraphBuilder.irVersion(18));
        assertEquals(9, GraphBuilder.irVersion(20));
        assertEquals(10, GraphBuilder.irVersion(21));
    }
}
