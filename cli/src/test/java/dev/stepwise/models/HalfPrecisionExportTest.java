package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.cli.Main;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --dtype fp16} for every architecture: a tiny random (float32) checkpoint exports to a float16 graph (weights
 * narrowed, past / present / logits float16) that validates against the float32 PyTorch reference within
 * {@code atol + 2e-3 × max |reference|} with clear greedy choices kept, and generates, a left-padded batch giving each
 * row its own tokens.
 */
class HalfPrecisionExportTest {
    static final List<long[]> PROMPTS = List.of(new long[] {5, 17, 300, 42, 8, 99, 640, 2, 77, 13},
            new long[] {4, 8, 15}, new long[] {16, 23, 42, 108, 7, 500, 1});

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"gpt2, tiny", "gpt_neo, tiny", "opt, tiny", "opt, tiny-350m-style", "biogpt, tiny", "llama, tiny",
        "llama, tiny-gqa", "llama, tiny-dynamic", "mistral, tiny"})
    void fp16ExportValidatesAndGenerates(String arch, String preset) {
        Path checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("ckpt"), arch, preset);
        ExportResult half = Exporter.export(checkpoint, tmp.resolve("fp16"),
                ExportOptions.defaults().withDtype(DType.FLOAT16));
        String label = arch + "/" + preset + " fp16";
        ExportChecks.assertValidated(label, half, 3);
        for (ValidationCase c : half.validation()) {
            assertTrue(c.argmaxCompared() > 0, label + " [" + c.name() + "]: greedy choices compared");
            System.out.printf("%s [%s] greedy token agrees at %d/%d clear positions%n", label, c.name(),
                    c.argmaxAgreed(), c.argmaxCompared());
        }
        assertHalfPrecisionContract(half.modelFile());

        try (ExportedModel model = ExportedModel.open(half.outputDir(), 1)) {
            assertEquals(OnnxJavaType.FLOAT16, model.cacheType());
            long[] tokens = new Generator(model).greedy(List.of(PROMPTS.get(0)), 8).get(0);
            assertTrue(tokens.length > PROMPTS.get(0).length, label + " generated tokens");
            ExportResult full = Exporter.export(checkpoint, tmp.resolve("fp32"), ExportOptions.defaults().withValidate(false));
            try (ExportedModel fp32 = ExportedModel.open(full.outputDir(), 1)) {
                long[] reference = new Generator(fp32).greedy(List.of(PROMPTS.get(0)), 8).get(0);
                System.out.printf("%s greedy %s, fp32 graph %s%n", label, Arrays.toString(tokens),
                        Arrays.toString(reference));
            }
        }
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(half.outputDir(), PROMPTS, 8);
    }

    /** LayerNormalization (opset 17) on float16 values, without the KV cache. */
    @Test
    void gpt2WithoutPastAtOpset17() {
        Path checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("ckpt"), "gpt2", "tiny");
        ExportResult half = Exporter.export(checkpoint, tmp.resolve("fp16"), ExportOptions.defaults()
                .withDtype(DType.FLOAT16).withTask(Task.TEXT_GENERATION).withOpset(17));
        ExportChecks.assertValidated("gpt2/tiny fp16 text-generation opset 17", half, 2);
        assertTrue(OnnxModelReader.load(half.modelFile()).opCounts().containsKey("LayerNormalization"));
        assertHalfPrecisionContract(half.modelFile());
    }

    /** OPT without LayerNorm affine parameters normalizes by hand, in float32; exact GELU in float16. */
    @Test
    void optConfigVariant() {
        Path checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("ckpt"), "opt", "tiny");
        ExportChecks.editConfig(checkpoint, c -> {
            c.addProperty("enable_bias", false);
            c.addProperty("layer_norm_elementwise_affine", false);
            c.addProperty("activation_function", "gelu");
        });
        ExportResult half = Exporter.export(checkpoint, tmp.resolve("fp16"),
                ExportOptions.defaults().withDtype(DType.FLOAT16));
        ExportChecks.assertValidated("opt/tiny variant fp16", half, 3);
        assertHalfPrecisionContract(half.modelFile());
    }

    @Test
    void cliExportsFp16AndRefusesOtherTypes() throws Exception {
        Path checkpoint = ExportChecks.randomCheckpoint(tmp.resolve("ckpt"), "llama", "tiny");
        Path out = tmp.resolve("cli");
        assertEquals(0, Main.run("export", "--model", checkpoint.toString(), "--output", out.toString(), "--dtype", "fp16"));
        assertEquals("fp16", ModelConfig.readJson(out.resolve(Exporter.MANIFEST_FILE)).get("dtype").getAsString());
        assertHalfPrecisionContract(out.resolve(Exporter.MODEL_FILE));
        Path refused = tmp.resolve("refused");
        assertEquals(2, Main.run("export", "--model", checkpoint.toString(), "--output", refused.toString(),
                "--dtype", "bf16"));
        assertTrue(!Files.exists(refused), "nothing written for a refused dtype");
    }

    /** Past inputs, presents and logits are float16; ids stay int64; every checkpoint weight is a float16 initializer. */
    static void assertHalfPrecisionContract(Path modelFile) {
        OnnxModelReader model = OnnxModelReader.load(modelFile);
        for (ValueInfoProto v : model.inputs()) {
            int expected = v.getName().startsWith("past_key_values") ? TensorProto.DataType.FLOAT16_VALUE
                    : TensorProto.DataType.INT64_VALUE;
            assertEquals(expected, v.getType().getTensorType().getElemType(), v.getName());
        }
        for (ValueInfoProto v : model.outputs()) {
            assertEquals(TensorProto.DataType.FLOAT16_VALUE, v.getType().getTensorType().getElemType(), v.getName());
        }
        for (TensorProto t : model.initializers()) {
            if (!t.getName().startsWith("const_")) {
                assertEquals(TensorProto.DataType.FLOAT16_VALUE, t.getDataType(), t.getName());
            }
        }
    }
}
