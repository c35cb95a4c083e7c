package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.stepwise.processor.ValidDeclarationTest.compile;
import static dev.stepwise.processor.ValidDeclarationTest.generated;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * {@code @OnnxConfig}'s defaults are optimum's decoder contract, so a model declares only what differs; the processor
 * validates the defaults together with what is declared, and reports a problem in a defaulted value on the annotation.
 */
class DefaultContractTest {

    /** A class with {@code annotation} in front of it, on line 10 of its source. */
    private static String source(String annotation) {
        return """
                package test;

                import dev.stepwise.annotations.*;
                import dev.stepwise.runtime.model.*;
                import dev.stepwise.runtime.ops.*;



                %s
                public final class Tiny implements CausalLm {
                    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache) {
                        return inputs.inputIds();
                    }
                }
                """.formatted(annotation);
    }

    private static JavaFileObject file(String text) {
        return JavaFileObjects.forSourceString("test.Tiny", text);
    }

    private static String flat(String code) {
        return code.replaceAll("\\s*\\n\\s*", " ");
    }

    @Test
    void onlyAModelTypeGetsOptimumsDecoderContract() throws IOException {
        Compilation c = compile(file(source("@OnnxConfig(modelType = \"tiny\")")));

        assertThat(c).succeededWithoutWarnings();
        String exporter = flat(generated(c, "test.TinyExporter"));
        assertTrue(exporter.contains("new ArchitectureSpec( \"tiny\", List.of(Task.TEXT_GENERATION,"
                + " Task.TEXT_GENERATION_WITH_PAST), 14, 1.0E-4, TinyConfig.KEYS,"), exporter);
        assertTrue(exporter.contains("List.of( new TensorDecl(\"input_ids\", DType.INT64, List.of(\"batch_size\","
                + " \"sequence_length\")), new TensorDecl(\"attention_mask\", DType.INT64, List.of(\"batch_size\","
                + " \"past_sequence_length + sequence_length\")), new TensorDecl(\"position_ids\", DType.INT64,"
                + " List.of(\"batch_size\", \"sequence_length\")))"), exporter);
        assertTrue(exporter.contains("new CacheDecl(\"past_key_values.{layer}.{kind}\", \"present.{layer}.{kind}\","
                + " DType.FLOAT, List.of(\"batch_size\", \"num_key_value_heads\", \"past_sequence_length\","
                + " \"head_dim\"))"), exporter);
        assertTrue(exporter.contains("List.of( new TensorDecl(\"logits\", DType.FLOAT, List.of(\"batch_size\","
                + " \"sequence_length\", \"vocab_size\")))"), exporter);
        assertTrue(flat(generated(c, "test.TinyDummyInputs")).contains(
                "inputs.put(\"position_ids\", DummyTensors.positionIds(attentionMask, sequence));"));
    }

    /** The GPT-2 declaration spelled out in full and the same model left at the defaults generate the same code. */
    @Test
    void spellingTheContractOutGeneratesWhatTheDefaultsGenerate() throws IOException {
        String full = Gpt2Source.TEXT;
        String start = "    tasks = {";
        String end = "\"vocab_size\"})})\n";
        String config = full.substring(full.indexOf("    config = "), full.indexOf("    inputs = {"));
        String defaulted = full.substring(0, full.indexOf(start)) + config.replaceAll(",\\s*$", ")\n")
                + full.substring(full.indexOf(end) + end.length());

        Compilation explicit = compile(Gpt2Source.valid());
        Compilation byDefault = compile(JavaFileObjects.forSourceString("test.Gpt2", defaulted));

        assertThat(byDefault).succeededWithoutWarnings();
        for (String generatedClass : new String[] {"test.Gpt2Exporter", "test.Gpt2Config", "test.Gpt2DummyInputs"}) {
            assertEquals(generated(explicit, generatedClass), generated(byDefault, generatedClass), generatedClass);
        }
    }

    @Test
    void aDeclaredOutputIsCheckedAgainstTheDefaultInputs() {
        String text = source("""
                @OnnxConfig(modelType = "tiny", outputs = {
                    @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}),
                    @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})})""");
        JavaFileObject file = file(text);

        Compilation c = compile(file);

        assertThat(c).hadErrorContaining("duplicate tensor name \"position_ids\": output \"position_ids\" is already"
                + " declared as input \"position_ids\"").inFile(file).onLine(Gpt2Source.lineOf(text, "name = \"position_ids\""));
        assertThat(c).hadErrorCount(1);
    }

    @Test
    void aDeclaredOutputAxisNeedsAnInputThatDefinesIt() {
        String text = source("""
                @OnnxConfig(modelType = "tiny", tasks = Task.TEXT_GENERATION, outputs = @TensorSpec(name = "logits",
                    type = DType.FLOAT, axes = {"batch_size", "past_sequence_length", "vocab_size"}))""");
        JavaFileObject file = file(text);

        Compilation c = compile(file);

        assertThat(c).hadErrorContaining("output \"logits\" uses axis \"past_sequence_length\", but no input defines"
                + " past_sequence_length").inFile(file).onLine(Gpt2Source.lineOf(text, "\"past_sequence_length\""));
    }

    /** A defaulted value has no place in the source: its problem is reported on the annotation. */
    @Test
    void aProblemInADefaultedValueIsReportedOnTheAnnotation() {
        String text = source("""
                @OnnxConfig(modelType = "tiny", inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "past_sequence_length + sequence_length"}),
                    @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"})})""");
        JavaFileObject file = file(text);

        Compilation c = compile(file);

        assertThat(c).hadErrorContaining("duplicate tensor name \"logits\": output \"logits\" is already declared as"
                + " input \"logits\"").inFile(file).onLine(Gpt2Source.lineOf(text, "@OnnxConfig("));
    }

    @Test
    void theDefaultTasksAreValidatedWithTheDeclaredInputs() {
        String text = source("""
                @OnnxConfig(modelType = "tiny", inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "sequence_length"})})""");
        JavaFileObject file = file(text);

        Compilation c = compile(file);

        assertThat(c).hadErrorContaining("the last axis of input \"attention_mask\" is \"sequence_length\"; expected"
                + " \"past_sequence_length + sequence_length\" because tasks include TEXT_GENERATION_WITH_PAST")
                .inFile(file).onLine(Gpt2Source.lineOf(text, "name = \"attention_mask\""));
    }
}
