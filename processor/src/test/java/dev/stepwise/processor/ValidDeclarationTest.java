package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.Compiler;
import com.google.testing.compile.JavaFileObjects;
import java.io.IOException;
import javax.tools.JavaFileObject;
import javax.tools.StandardLocation;
import org.junit.jupiter.api.Test;

/**
 * What valid declarations get: no diagnostics at all (under the project's lint flags, as errors), and for each the
 * exporter, config and dummy-input classes plus its service entry. The generated classes are compiled in the same
 * compilation against the real runtime, so a successful compilation also proves they fit the runtime's API.
 */
class ValidDeclarationTest {

    static Compilation compile(JavaFileObject... sources) {
        return Compiler.javac()
                .withProcessors(new OnnxConfigProcessor())
                .withOptions("-Xlint:all,-processing,-serial", "-Werror")
                .compile(sources);
    }

    static String generated(Compilation c, String qualifiedName) throws IOException {
        return c.generatedSourceFile(qualifiedName).orElseThrow().getCharContent(true).toString();
    }

    @Test
    void gpt2CompilesWithoutWarningsAndGetsExporterConfigDummyInputsAndServiceEntry() {
        Compilation c = compile(Gpt2Source.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.Gpt2Exporter");
        assertThat(c).generatedSourceFile("test.Gpt2Config");
        assertThat(c).generatedSourceFile("test.Gpt2DummyInputs");
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT, ServiceFile.PATH)
                .contentsAsUtf8String().isEqualTo("test.Gpt2Exporter\n");
    }

    @Test
    void theDesignNotesGpt2WithSingleValueArraysAndDefaultsIsValid() {
        JavaFileObject source = JavaFileObjects.forSourceString("test.Gpt2", """
                package test;

                import dev.stepwise.annotations.*;
                import dev.stepwise.runtime.model.*;
                import dev.stepwise.runtime.ops.*;
                import java.util.List;

                @OnnxConfig(modelType = "gpt2", opset = 14, atol = 1e-4,
                  config = @ConfigKeys(numLayers = "n_layer", numAttentionHeads = "n_head", hiddenSize = "n_embd", maxPositions = "n_positions"),
                  inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "past_sequence_length + sequence_length"}),
                    @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
                  cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                     axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
                  outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
                public final class Gpt2 implements CausalLm {
                    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache) {
                        return null;
                    }

                    public List<WeightSpec> expectedWeights(ModelConfig config) {
                        return List.of();
                    }
                }
                """);

        Compilation c = compile(source);

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.Gpt2Exporter");
    }

    @Test
    void aMinimalDeclarationLeavingTasksConfigAndCacheAtTheirDefaultsIsValid() {
        JavaFileObject source = JavaFileObjects.forSourceString("test.Tiny", """
                package test;

                import dev.stepwise.annotations.*;
                import dev.stepwise.runtime.model.*;
                import dev.stepwise.runtime.ops.*;
                import java.util.List;

                @OnnxConfig(modelType = "tiny",
                  inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "past_sequence_length + sequence_length"})},
                  outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
                public class Tiny implements CausalLm {
                    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache) {
                        return null;
                    }

                    public List<WeightSpec> expectedWeights(ModelConfig config) {
                        return List.of();
                    }
                }
                """);

        Compilation c = compile(source);

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.TinyExporter");
        assertThat(c).generatedSourceFile("test.TinyConfig");
        assertThat(c).generatedSourceFile("test.TinyDummyInputs");
    }

    @Test
    void aStaticNestedClassGetsOuterPrefixedNames() throws IOException {
        String text = Gpt2Source.TEXT.replace("@OnnxConfig(", "public final class Models {\n@OnnxConfig(")
                .replace("public final class Gpt2", "public static final class Gpt2") + "}\n";

        Compilation c = compile(JavaFileObjects.forSourceString("test.Models", text));

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.Models_Gpt2Config");
        assertThat(c).generatedSourceFile("test.Models_Gpt2DummyInputs");
        assertThat(c).generatedSourceFile("test.Models_Gpt2Exporter").contentsAsUtf8String()
                .contains("return new Models.Gpt2();");
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT, ServiceFile.PATH)
                .contentsAsUtf8String().isEqualTo("test.Models_Gpt2Exporter\n");
    }

    @Test
    void everyArchitectureOfACompilationIsListedInOneServiceFile() {
        JavaFileObject neo = JavaFileObjects.forSourceString("other.GptNeo", Gpt2Source.TEXT
                .replace("package test;", "package other;")
                .replace("\"gpt2\"", "\"gpt_neo\"")
                .replace("Gpt2", "GptNeo"));

        Compilation c = compile(neo, Gpt2Source.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT, ServiceFile.PATH)
                .contentsAsUtf8String().isEqualTo("other.GptNeoExporter\ntest.Gpt2Exporter\n");
    }
}
