package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.Compiler;
import com.google.testing.compile.JavaFileObjects;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/** How problems are reported beyond single catalogue entries: all at once, across classes, and at defaults. */
class ReportingTest {

    private static Compilation compile(JavaFileObject... sources) {
        return Compiler.javac().withProcessors(new OnnxConfigProcessor()).compile(sources);
    }

    @Test
    void everyProblemOfAClassIsReportedNotJustTheFirst() {
        String text = Gpt2Source.replace(Gpt2Source.TEXT, "opset = 14", "opset = 12");
        text = Gpt2Source.replace(text, "atol = 1e-4", "atol = 0");
        text = Gpt2Source.replace(text, "{\"batch_size\", \"sequence_length\", \"vocab_size\"}",
                "{\"batch_size\", \"sequence_length\", \"vocab\"}");
        text = Gpt2Source.replace(text, "numLayers = \"n_layer\"", "numLayers = \"\"");
        JavaFileObject file = JavaFileObjects.forSourceString("test.Gpt2", text);

        Compilation c = compile(file);

        assertThat(c).hadErrorCount(4);
        assertThat(c).hadErrorContaining("opset 12").inFile(file).onLine(Gpt2Source.lineOf(text, "opset = "));
        assertThat(c).hadErrorContaining("atol 0.0").inFile(file).onLine(Gpt2Source.lineOf(text, "atol = "));
        assertThat(c).hadErrorContaining("unknown axis symbol \"vocab\"").inFile(file)
                .onLine(Gpt2Source.lineOf(text, "\"vocab\""));
        assertThat(c).hadErrorContaining("@ConfigKeys numLayers is empty").inFile(file)
                .onLine(Gpt2Source.lineOf(text, "numLayers = "));
    }

    @Test
    void oneMistakeIsOneErrorAMalformedMaskAxisIsNotAlsoAWrongMaskAxis() {
        String text = Gpt2Source.replace(Gpt2Source.TEXT, "\"past_sequence_length + sequence_length\"",
                "\"past_sequence_length+sequence_length\"");

        Compilation c = compile(JavaFileObjects.forSourceString("test.Gpt2", text));

        assertThat(c).hadErrorCount(1);
        assertThat(c).hadErrorContaining("malformed axis \"past_sequence_length+sequence_length\"");
    }

    @Test
    void twoClassesClaimingOneModelTypeAreAnError() {
        JavaFileObject copy = JavaFileObjects.forSourceString("test.Gpt2Copy",
                Gpt2Source.TEXT.replace("class Gpt2", "class Gpt2Copy"));

        Compilation c = compile(Gpt2Source.valid(), copy);

        assertThat(c).hadErrorCount(1);
        assertThat(c).hadErrorContaining("modelType \"gpt2\" is already declared by test.Gpt2; expected one"
                + " @OnnxConfig class per model_type").inFile(copy).onLine(Gpt2Source.lineOf(Gpt2Source.TEXT, "modelType = "));
    }

    @Test
    void anUnresolvedSupertypeIsLeftToJavacRatherThanReportedAsNotACausalLm() {
        String text = Gpt2Source.replace(Gpt2Source.TEXT, "implements CausalLm {", "implements CausalLm, NoSuchType {");

        Compilation c = compile(JavaFileObjects.forSourceString("test.Gpt2", text));

        assertThat(c).hadErrorContaining("cannot find symbol");
        assertTrue(c.errors().stream().noneMatch(d -> d.getMessage(null).contains("does not implement")),
                c.errors().toString());
    }

    @Test
    void aProblemWithAValueLeftAtItsDefaultPointsAtTheAnnotation() {
        // the default cache's present layout needs sequence_length, which no input has here
        String text = """
                package test;

                import dev.stepwise.annotations.*;
                import dev.stepwise.runtime.model.*;
                import dev.stepwise.runtime.ops.*;
                import java.util.List;

                @OnnxConfig(
                    modelType = "odd",
                    inputs = @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "hidden_size"}),
                    outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "vocab_size"}))
                public final class Odd implements CausalLm {
                    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache) {
                        return null;
                    }

                    public List<WeightSpec> expectedWeights(ModelConfig config) {
                        return List.of();
                    }
                }
                """;
        JavaFileObject file = JavaFileObjects.forSourceString("test.Odd", text);

        Compilation c = compile(file);

        assertThat(c).hadErrorCount(1);
        assertThat(c).hadErrorContaining("the present cache layout uses axis \"past_sequence_length +"
                + " sequence_length\", but no input defines sequence_length")
                .inFile(file).onLine(Gpt2Source.lineOf(text, "@OnnxConfig("));
    }
}
