package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.stepwise.processor.ValidDeclarationTest.compile;
import static dev.stepwise.processor.ValidDeclarationTest.generated;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** What the generated code says: the spec literally, and one dummy-input statement per declared tensor. */
class GeneratedCodeTest {

    private static Compilation compileEdited(String from, String to) {
        Compilation c = compile(JavaFileObjects.forSourceString("test.Gpt2", Gpt2Source.replace(Gpt2Source.TEXT, from, to)));
        assertThat(c).succeededWithoutWarnings();
        return c;
    }

    /** Collapses JavaPoet's line wrapping so assertions need not guess where it broke a line. */
    private static String flat(String code) {
        return code.replaceAll("\\s*\\n\\s*", " ");
    }

    @Test
    void exporterSpellsOutTheSpecAndDelegates() throws IOException {
        String exporter = flat(generated(compile(Gpt2Source.valid()), "test.Gpt2Exporter"));

        assertTrue(exporter.contains("public final class Gpt2Exporter implements Architecture"), exporter);
        assertTrue(exporter.contains("new ArchitectureSpec( \"gpt2\", List.of(Task.TEXT_GENERATION,"
                + " Task.TEXT_GENERATION_WITH_PAST), 14, 1.0E-4, Gpt2Config.KEYS,"), exporter);
        assertTrue(exporter.contains("new TensorDecl(\"attention_mask\", DType.INT64, List.of(\"batch_size\","
                + " \"past_sequence_length + sequence_length\"))"), exporter);
        assertTrue(exporter.contains("new CacheDecl(\"past_key_values.{layer}.{kind}\", \"present.{layer}.{kind}\","
                + " DType.FLOAT, List.of(\"batch_size\", \"num_key_value_heads\", \"past_sequence_length\","
                + " \"head_dim\"))"), exporter);
        assertTrue(exporter.contains("return new Gpt2();"), exporter);
        assertTrue(exporter.contains("return Gpt2DummyInputs.create(config, batch, sequence, past, seed);"), exporter);
        assertTrue(exporter.contains("return run(checkpointDir, outputDir, ExportOptions.defaults());"), exporter);
        assertTrue(exporter.contains("return Exporter.export(new Gpt2Exporter(), checkpointDir, outputDir, options);"),
                exporter);
        assertTrue(exporter.contains("return Gpt2Config.read(checkpointDir.resolve(\"config.json\"));"), exporter);
    }

    @Test
    void configBakesInTheKeyMap() throws IOException {
        String config = flat(generated(compile(Gpt2Source.valid()), "test.Gpt2Config"));

        assertTrue(config.contains("public static final ConfigKeyMap KEYS = new ConfigKeyMap( \"n_layer\", //"
                + " numLayers \"n_head\", // numAttentionHeads \"\", // numKeyValueHeads \"n_embd\", // hiddenSize"), config);
        assertTrue(config.contains("return new Gpt2Config(ModelConfig.read(configJson, KEYS));"), config);
        for (String getter : new String[] {"numLayers", "numAttentionHeads", "numKeyValueHeads", "hiddenSize",
                "vocabSize", "headDim"}) {
            assertTrue(config.contains("public int " + getter + "() { return config." + getter + "(); }"), getter);
        }
        assertTrue(config.contains("public ModelConfig modelConfig()"), config);
    }

    @Test
    void dummyInputsHaveOneStatementPerInputAndPerPastTensorWithAxesResolved() throws IOException {
        String dummy = flat(generated(compile(Gpt2Source.valid()), "test.Gpt2DummyInputs"));

        assertTrue(dummy.contains("public static DummyInputs create(ModelConfig config, int batch, int sequence,"
                + " int past, long seed)"), dummy);
        assertTrue(dummy.contains("HostTensor attentionMask = DummyTensors.attentionMask(batch, past + sequence);"
                + " inputs.put(\"input_ids\", DummyTensors.inputIds(config.vocabSize(), batch, sequence, seed));"
                + " inputs.put(\"attention_mask\", attentionMask);"
                + " inputs.put(\"position_ids\", DummyTensors.positionIds(attentionMask, sequence));"
                + " for (int layer = 0; layer < config.numLayers(); layer++) {"
                + " inputs.put(\"past_key_values.\" + layer + \".key\", DummyTensors.randomFloats(seed + 1 + 2L * layer,"
                + " batch, config.numKeyValueHeads(), past, config.headDim()));"
                + " inputs.put(\"past_key_values.\" + layer + \".value\", DummyTensors.randomFloats(seed + 2 + 2L * layer,"
                + " batch, config.numKeyValueHeads(), past, config.headDim())); }"), dummy);
    }

    @Test
    void theMaskIsBuiltBeforePositionIdsWhateverTheDeclarationOrder() throws IOException {
        String positionsFirst = Gpt2Source.replace(Gpt2Source.TEXT,
                "        @TensorSpec(name = \"input_ids\", type = DType.INT64, axes = {\"batch_size\", \"sequence_length\"}),\n",
                "        @TensorSpec(name = \"position_ids\", type = DType.INT64, axes = {\"batch_size\", \"sequence_length\"}),\n"
                        + "        @TensorSpec(name = \"input_ids\", type = DType.INT64, axes = {\"batch_size\", \"sequence_length\"}),\n");
        positionsFirst = Gpt2Source.replace(positionsFirst,
                ",\n        @TensorSpec(name = \"position_ids\", type = DType.INT64, axes = {\"batch_size\", \"sequence_length\"})}",
                "}");
        Compilation c = compile(JavaFileObjects.forSourceString("test.Gpt2", positionsFirst));
        assertThat(c).succeededWithoutWarnings();
        String dummy = flat(generated(c, "test.Gpt2DummyInputs"));

        int mask = dummy.indexOf("HostTensor attentionMask = DummyTensors.attentionMask(batch, past + sequence);");
        int positions = dummy.indexOf("inputs.put(\"position_ids\", DummyTensors.positionIds(attentionMask, sequence));");
        assertTrue(mask >= 0 && positions > mask, dummy);
        assertTrue(positions < dummy.indexOf("inputs.put(\"input_ids\""), "inputs are put in declaration order");
    }

    @Test
    void positionIdsWithoutADeclaredMaskStillGetAMask() throws IOException {
        Compilation c = compileEdited("        @TensorSpec(name = \"attention_mask\", type = DType.INT64, axes ="
                + " {\"batch_size\", \"past_sequence_length + sequence_length\"}),\n", "");
        String dummy = flat(generated(c, "test.Gpt2DummyInputs"));

        assertTrue(dummy.contains("HostTensor attentionMask = DummyTensors.attentionMask(batch, past + sequence);"), dummy);
        assertFalse(dummy.contains("inputs.put(\"attention_mask\""), dummy);
    }

    @Test
    void otherInputsAreZerosWhenIntegerAndRandomWhenFloatingAndInt32IsStillBuiltAsInt64() throws IOException {
        Compilation c = compileEdited("axes = {\"batch_size\", \"sequence_length\"})},",
                "axes = {\"batch_size\", \"sequence_length\"}),\n"
                        + "        @TensorSpec(name = \"token_type_ids\", type = DType.INT32, axes = {\"batch_size\", \"sequence_length\"}),\n"
                        + "        @TensorSpec(name = \"inputs_embeds\", type = DType.FLOAT, axes = {\"batch_size\", \"sequence_length\", \"hidden_size\"})},");
        String dummy = flat(generated(c, "test.Gpt2DummyInputs"));

        assertTrue(dummy.contains("inputs.put(\"token_type_ids\", DummyTensors.zerosLong(batch, sequence));"), dummy);
        assertTrue(dummy.contains("inputs.put(\"inputs_embeds\", DummyTensors.randomFloats(seed - 1, batch, sequence,"
                + " config.hiddenSize()));"), dummy);
    }

    @Test
    void anInt32IdInputIsValidAndFilledLikeAnInt64One() throws IOException {
        Compilation c = compileEdited("name = \"input_ids\", type = DType.INT64", "name = \"input_ids\", type = DType.INT32");
        String dummy = flat(generated(c, "test.Gpt2DummyInputs"));

        assertTrue(dummy.contains("inputs.put(\"input_ids\", DummyTensors.inputIds(config.vocabSize(), batch, sequence,"
                + " seed));"), dummy);
    }

    @Test
    void withoutThePastTaskThereAreNoPastTensorsAndRunDefaultsToTheDeclaredTask() throws IOException {
        Compilation c = compileEdited("tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}",
                "tasks = {Task.TEXT_GENERATION}");

        assertFalse(generated(c, "test.Gpt2DummyInputs").contains("for (int layer"));
        assertTrue(flat(generated(c, "test.Gpt2Exporter")).contains(
                "return run(checkpointDir, outputDir, ExportOptions.defaults().withTask(Task.TEXT_GENERATION));"));
    }

    @Test
    void aCachePatternStartingWithTheLayerStaysAStringConcatenation() throws IOException {
        Compilation c = compileEdited("past = \"past_key_values.{layer}.{kind}\"", "past = \"{layer}.past_{kind}\"");
        String dummy = flat(generated(c, "test.Gpt2DummyInputs"));

        assertTrue(dummy.contains("inputs.put(String.valueOf(layer) + \".past_key\","), dummy);
        assertTrue(dummy.contains("inputs.put(String.valueOf(layer) + \".past_value\","), dummy);
    }
}
