package dev.stepwise.runtime.onnx.passes;

import static dev.stepwise.runtime.onnx.passes.OpCase.F;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several models written against one external data file store each distinct weight once. */
class SharedExternalDataTest {
    @TempDir
    Path dir;

    private static ModelProto model(String name, ConstTensor weight, ConstTensor small) {
        GraphBuilder g = new GraphBuilder(name, 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {1, 512}));
        g.addInitializer(weight.toProto("w"));
        g.addInitializer(small.toProto("b"));
        String y = g.addNode("MatMul", List.of("x", "w"));
        String z = g.addNode("Add", List.of(y, "b"));
        g.addOutput(GraphBuilder.tensorInfo(z, F, new long[] {1, 4}));
        return g.build(false);
    }

    @Test
    void identicalWeightsAreStoredOnceAndModelsStillRun() throws Exception {
        ConstTensor w = OpCase.random(F, 512, 4);
        ConstTensor b = OpCase.random(F, 4);
        ModelProto a = model("a", w, b);
        ModelProto c = model("c", w, b);
        Path data = dir.resolve("weights.bin");
        ModelProto sharedA;
        ModelProto sharedC;
        try (SharedExternalData shared = new SharedExternalData(data, 1024)) {
            sharedA = shared.share(a, dir);
            sharedC = shared.share(c, dir);
        }
        assertEquals(512 * 4 * 4, Files.size(data), "one copy");
        for (ModelProto m : List.of(sharedA, sharedC)) {
            TensorProto weight = m.getGraph().getInitializer(0);
            assertEquals(TensorProto.DataLocation.EXTERNAL, weight.getDataLocation());
            assertTrue(m.getGraph().getInitializer(1).getRawData().size() == 16, "small tensors stay inline");
        }
        // a model pointing into the shared file becomes a source itself: its regions are copied once more, not twice
        Path second = dir.resolve("second");
        Files.createDirectories(second);
        try (SharedExternalData again = new SharedExternalData(second.resolve("w2.bin"), 1024)) {
            again.share(sharedA, dir);
            again.share(sharedC, dir);
        }
        assertEquals(512 * 4 * 4, Files.size(second.resolve("w2.bin")));
        ConstTensor x = OpCase.random(F, 1, 512);
        Files.write(dir.resolve("a.onnx"), sharedA.toByteArray());
        Map<String, ConstTensor> before = OrtRunner.run(a, dir, Map.of("x", x));
        Map<String, ConstTensor> after = OrtRunner.run(dir.resolve("a.onnx"), Map.of("x", x));
        ConstantFoldingTest.assertClose(before.values().iterator().next(), after.values().iterator().next());
    }

    @Test
    void opsetCheckFlagsOpsNewerThanTheImport() {
        GraphBuilder g = new GraphBuilder("ln", 13);
        g.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 4}));
        g.addInitializer(OpCase.random(F, 4).toProto("scale"));
        String y = g.addNode("LayerNormalization", List.of("x", "scale"));
        g.addOutput(GraphBuilder.tensorInfo(y, F, new long[] {2, 4}));
        List<String> problems = OpsetCheck.check(g.build(false));
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("needs opset 17"), problems.get(0));
        GraphBuilder ok = new GraphBuilder("ok", 17);
        ok.addInput(GraphBuilder.tensorInfo("x", F, new long[] {2, 4}));
        ok.addOutput(GraphBuilder.tensorInfo(ok.addNode("Relu", List.of("x")), F, new long[] {2, 4}));
        assertEquals(List.of(), OpsetCheck.check(ok.build(false)));
    }
}
