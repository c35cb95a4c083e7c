package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.ops.WeightInit;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ToyParallel}, an architecture added by one class in this test folder: the processor registers it with the
 * optimum decoder contract it did not spell out, its expected weights come from its forward, {@code random-checkpoint}
 * writes it, and it exports and validates against the PyTorch reference like the built-in models.
 */
class NewArchitectureTest {
    @TempDir
    static Path tmp;
    static Path checkpoint;

    @BeforeAll
    static void writeRandomCheckpoint() {
        checkpoint = tmp.resolve("toy");
        RandomCheckpoint.write("toy_parallel", "tiny", checkpoint, 5);
    }

    @Test
    void registeredWithTheDefaultDecoderContract() {
        Architecture toy = Architectures.forModelType("toy_parallel", "test");
        assertInstanceOf(ToyParallelExporter.class, toy);
        assertInstanceOf(ToyParallel.class, toy.newModel());
        assertEquals(List.of("input_ids", "attention_mask", "position_ids"),
                toy.spec().inputs().stream().map(TensorDecl::name).toList());
        assertEquals(List.of("logits"), toy.spec().outputs().stream().map(TensorDecl::name).toList());
        assertEquals(List.of("batch_size", "past_sequence_length + sequence_length"), toy.spec().inputs().get(1).axes());
        assertEquals("past_key_values.{layer}.{kind}", toy.spec().cache().pastPattern());
        assertEquals("present.{layer}.{kind}", toy.spec().cache().presentPattern());
        assertEquals(14, toy.spec().opset());
        assertTrue(RandomCheckpoint.archs().contains("toy_parallel"), RandomCheckpoint.archs().toString());
    }

    @Test
    void expectedWeightsAreWhatTheForwardDeclares() {
        List<WeightSpec> weights = new ToyParallel().expectedWeights(ModelFolder.read(checkpoint).config());
        List<String> names = weights.stream().map(WeightSpec::name).toList();
        List<String> expected = new ArrayList<>(List.of("toy.embed.weight", "toy.positions.weight"));
        for (int i = 0; i < 2; i++) {
            String b = "toy.blocks." + i + ".";
            expected.addAll(List.of(b + "norm.weight", b + "norm.bias", b + "attn.qkv.weight", b + "attn.out.weight",
                    b + "attn.out.bias", b + "mlp.fc_in.weight", b + "mlp.fc_in.bias", b + "mlp.fc_out.weight",
                    b + "mlp.fc_out.bias"));
        }
        expected.addAll(List.of("toy.final_norm.weight", "toy.head.weight"));
        assertEquals(expected, names, "first-use order");
        WeightSpec qkv = weights.get(names.indexOf("toy.blocks.1.attn.qkv.weight"));
        assertEquals("toy.blocks.1.attn.qkv.weight[192, 64]", qkv.toString(), "nn.Linear layout [out, in]");
        assertEquals("toy.blocks.0.mlp.fc_out.weight[64, 128]", weights.get(names.indexOf("toy.blocks.0.mlp.fc_out.weight"))
                .toString());
        WeightSpec head = weights.get(weights.size() - 1);
        assertTrue(head.optional(), "tied head");
        assertEquals(WeightInit.SCALE, weights.get(names.indexOf("toy.final_norm.weight")).init());
        assertEquals(WeightInit.SCALE, weights.get(names.indexOf("toy.blocks.0.norm.weight")).init());
        assertEquals(WeightInit.NORMAL, weights.get(names.indexOf("toy.blocks.0.norm.bias")).init());
    }

    @Test
    void randomCheckpointHoldsTheRequiredWeightsDrawnByRole() {
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            assertEquals(2 + 2 * 9 + 1, c.names().size());
            assertFalse(c.has("toy.head.weight"), "a tied head is not saved");
            double[] scale = stats(c.float32("toy.final_norm.weight").asFloatBuffer());
            assertEquals(1, scale[0], 0.05);
            assertTrue(scale[1] > 0.05 && scale[1] < 0.15, "norm scales spread around 1: std " + scale[1]);
            double[] matrix = stats(c.float32("toy.blocks.0.mlp.fc_in.weight").asFloatBuffer());
            assertEquals(0, matrix[0], 0.002);
            assertEquals(0.02, matrix[1], 0.002);
            assertTrue(stats(c.float32("toy.blocks.1.attn.out.bias").asFloatBuffer())[1] > 0.01, "biases are not zero");
        }
    }

    @Test
    void exportsAndValidates() {
        ExportResult result = Exporter.export(checkpoint, tmp.resolve("toy-onnx"), ExportOptions.defaults());
        ExportChecks.assertValidated("toy_parallel", result, 3);
        List<long[]> prompts = List.of(new long[] {3, 14, 15, 92, 65, 35}, new long[] {89, 79}, new long[] {32, 38, 46});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(result.outputDir(), prompts, 6);
    }

    /** The declared shapes are checked against the checkpoint before anything is written, in one line. */
    @Test
    void aCheckpointThatDoesNotFitTheDeclaredShapesFailsInOneLine() throws Exception {
        Path wrong = tmp.resolve("toy-wrong");
        RandomCheckpoint.write("toy_parallel", "tiny", wrong, 5);
        ExportChecks.editConfig(wrong, c -> c.addProperty("d_ff", 256));
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> Exporter.export(wrong, tmp.resolve("toy-wrong-onnx"), ExportOptions.defaults()));
        assertEquals(wrong.resolve("model.safetensors") + ": tensor 'toy.blocks.0.mlp.fc_in.weight' has shape [128, 64],"
                + " expected [256, 64] (and 5 more problems)", e.getMessage());
        assertFalse(Files.exists(tmp.resolve("toy-wrong-onnx")));
    }

    private static double[] stats(FloatBuffer values) {
        double sum = 0;
        double squares = 0;
        int n = values.remaining();
        for (int i = 0; i < n; i++) {
            sum += values.get(i);
            squares += (double) values.get(i) * values.get(i);
        }
        double mean = sum / n;
        return new double[] {mean, Math.sqrt(squares / n - mean * mean)};
    }
}
