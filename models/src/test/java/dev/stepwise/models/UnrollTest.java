package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gen-step graphs (B=2, L=8, N=4) for every built-in architecture: fully static (a fixed-dim value_info for every
 * tensor), no shape-only ops, no Identity, one shared weights file, and generation through them equal to the dynamic
 * decoder's tokens.
 */
class UnrollTest {
    static final Set<String> SHAPE_OPS = Set.of("Shape", "ConstantOfShape", "Range", "Size", "Identity");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt_neo", "opt", "biogpt", "llama", "mistral"})
    void stepGraphsAreStaticShareWeightsAndGenerateLikeTheDynamicDecoder(String arch) throws IOException {
        Path checkpoint = tmp.resolve(arch + "-ckpt");
        RandomCheckpoint.write(arch, "tiny", checkpoint, 3);
        UnrollResult result = Unroller.unroll(checkpoint, tmp.resolve(arch + "-steps"), UnrollOptions.of(2, 8, 4));
        Path dir = result.outputDir();
        assertEquals(4, result.steps().size());
        result.report().checks().forEach(c -> assertTrue(c.passed(), c.describe()));

        long weights = Files.size(dir.resolve(Unroller.WEIGHTS_FILE));
        long graphs = 0;
        for (int s = 0; s < 4; s++) {
            Path file = dir.resolve("decoder_model-opt_gen_step=" + s + ".onnx");
            graphs += Files.size(file);
            ModelProto model;
            try (InputStream in = Files.newInputStream(file)) {
                model = ModelProto.parseFrom(in);
            }
            assertEquals(13, model.getOpsetImport(0).getVersion(), "opset 13 by default");
            assertStatic(model, s);
            for (TensorProto t : model.getGraph().getInitializerList()) {
                if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                    assertEquals(Unroller.WEIGHTS_FILE, t.getExternalData(0).getValue(), t.getName());
                }
            }
        }
        assertTrue(graphs < weights / 2 || graphs < 512 * 1024, "graphs are small next to the weights: " + graphs + " vs " + weights);

        // Generation through the step graphs equals the dynamic decoder's.
        Path exported = tmp.resolve(arch + "-dynamic");
        Exporter.export(checkpoint, exported, ExportOptions.defaults().withValidate(false));
        List<long[]> prompts = List.of(new long[] {5, 6, 7, 8, 9, 10, 11, 12}, new long[] {40, 41, 42});
        List<long[]> expected;
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            expected = new Generator(model).greedy(prompts, 4);
        }
        try (StepGraphs opened = StepGraphs.open(dir, 1)) {
            List<long[]> actual = new Generator(opened).greedy(prompts, 4);
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(expected.get(r), actual.get(r), arch + " row " + r);
            }
            assertEquals(4, opened.openSessions(), "one session per step graph, kept open");
            new Generator(opened).greedy(prompts, 4);
            assertEquals(4, opened.openSessions(), "a second generation reuses the sessions");
            assertThrows(UnsupportedOptionException.class,
                    () -> new Generator(opened).greedy(List.of(prompts.get(0)), 4), "a batch of the wrong size is refused");
            assertThrows(UnsupportedOptionException.class,
                    () -> new Generator(opened).greedy(prompts, 5), "more tokens than step graphs are refused");
        }
    }

    static void assertStatic(ModelProto model, int step) {
        Set<String> typed = new HashSet<>();
        Stream.of(model.getGraph().getInputList(), model.getGraph().getOutputList(), model.getGraph().getValueInfoList())
                .flatMap(List::stream)
                .forEach(v -> {
                    assertFixed(v, step);
                    typed.add(v.getName());
                });
        model.getGraph().getInitializerList().forEach(t -> typed.add(t.getName()));
        for (NodeProto n : model.getGraph().getNodeList()) {
            assertTrue(!SHAPE_OPS.contains(n.getOpType()), "step " + step + " has a " + n.getOpType() + " node " + n.getName());
            for (String out : n.getOutputList()) {
                assertTrue(typed.contains(out), "step " + step + ": value " + out + " of " + n.getOpType() + " has no value_info");
            }
        }
    }

    static void assertFixed(ValueInfoProto v, int step) {
        assertTrue(v.getType().hasTensorType(), v.getName());
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
            assertTrue(d.hasDimValue(), "step " + step + ": " + v.getName() + " has a symbolic dim " + d.getDimParam());
        }
    }

    @Test
    void lastTokenLogitsAndTheFinalStepConvention() throws IOException {
        Path checkpoint = tmp.resolve("ckpt-last");
        RandomCheckpoint.write("llama", "tiny-gqa", checkpoint, 5);
        UnrollResult result = Unroller.unroll(checkpoint, tmp.resolve("steps-last"),
                UnrollOptions.of(2, 6, 3).withLastTokenLogits(true).withIncludeFinalStep(true));
        assertEquals(4, result.steps().size(), "N = 3 new tokens plus the final step: gen steps 0..3");
        result.report().checks().forEach(c -> assertTrue(c.passed(), c.describe()));
        ModelProto prefill;
        try (InputStream in = Files.newInputStream(result.outputDir().resolve("decoder_model-opt_gen_step=0.onnx"))) {
            prefill = ModelProto.parseFrom(in);
        }
        ValueInfoProto logits = prefill.getGraph().getOutputList().stream()
                .filter(o -> o.getName().equals("logits")).findFirst().orElseThrow();
        List<Long> dims = logits.getType().getTensorType().getShape().getDimList().stream()
                .map(TensorShapeProto.Dimension::getDimValue).toList();
        assertEquals(List.of(2L, 1L, 1000L), dims, "prefill returns only the last position's logits");
        assertStatic(prefill, 0);
    }

    @Test
    void badOptionsAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 3);
        Path out = tmp.resolve("never");
        assertThrows(StepwiseException.class, () -> Unroller.unroll(checkpoint, out, UnrollOptions.of(0, 8, 4)));
        assertThrows(StepwiseException.class, () -> Unroller.unroll(checkpoint, out, UnrollOptions.of(1, 8, 4).withOpset(11)));
        assertThrows(StepwiseException.class, () -> Unroller.unroll(checkpoint, out, UnrollOptions.of(1, 120, 40)));
        assertTrue(!Files.exists(out));
    }
}
