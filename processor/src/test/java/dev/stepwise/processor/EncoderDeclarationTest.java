package dev.stepwise.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.stepwise.processor.ValidDeclarationTest.compile;
import static dev.stepwise.processor.ValidDeclarationTest.generated;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.StandardLocation;
import org.junit.jupiter.api.Test;

/**
 * A valid {@code @EncoderConfig} compiles without a warning and gets its exporter (an {@code EncoderArchitecture}
 * with the spec spelled out, one output per task), config, dummy inputs and its own service file; it compiles
 * together with a decoder declaration, each landing in its own service file.
 */
class EncoderDeclarationTest {
    private static String flat(String code) {
        return code.replaceAll("\\s*\\n\\s*", " ");
    }

    @Test
    void bertGetsExporterConfigDummyInputsAndEncoderServiceEntry() throws IOException {
        Compilation c = compile(BertSource.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedSourceFile("test.BertConfig");
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT,
                "META-INF/services/dev.stepwise.runtime.model.EncoderArchitecture")
                .contentsAsUtf8String().isEqualTo("test.BertExporter\n");
        String exporter = flat(generated(c, "test.BertExporter"));
        assertTrue(exporter.contains("public final class BertExporter implements EncoderArchitecture"), exporter);
        assertTrue(exporter.contains("new EncoderSpec( \"bert\", List.of(Task.FEATURE_EXTRACTION,"
                + " Task.TEXT_CLASSIFICATION, Task.FILL_MASK), 14, 1.0E-4, BertConfig.KEYS,"), exporter);
        assertTrue(exporter.contains("Task.TEXT_CLASSIFICATION, new TensorDecl(\"logits\", DType.FLOAT,"
                + " List.of(\"batch_size\", \"num_labels\"))"), exporter);
        assertTrue(exporter.contains("return EncoderExporter.export(new BertExporter(), checkpointDir, outputDir,"
                + " options);"), exporter);
        String dummy = flat(generated(c, "test.BertDummyInputs"));
        assertTrue(dummy.contains("HostTensor attentionMask = DummyTensors.rightPaddedMask(batch, sequence);"), dummy);
        assertTrue(dummy.contains("inputs.put(\"token_type_ids\", DummyTensors.sentencePairTypes(attentionMask,"
                + " config.getInt(\"type_vocab_size\", 2)));"), dummy);
    }

    @Test
    void encoderAndDecoderInOneCompilationEachGetTheirServiceFile() {
        Compilation c = compile(BertSource.valid(), Gpt2Source.valid());

        assertThat(c).succeededWithoutWarnings();
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT, ServiceFile.PATH)
                .contentsAsUtf8String().isEqualTo("test.Gpt2Exporter\n");
        assertThat(c).generatedFile(StandardLocation.CLASS_OUTPUT,
                "META-INF/services/dev.stepwise.runtime.model.EncoderArchitecture")
                .contentsAsUtf8String().isEqualTo("test.BertExporter\n");
    }
}
