package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --optimize ort} of the encoders: the real all-MiniLM-L6-v2 (BERT) and the trained DistilBERT fixture
 * traced with ONNX Runtime's MultiHeadAttention, SkipLayerNormalization and BiasGelu, validated against the PyTorch
 * reference like the plain export, and equal to the plain export on a padded batch of real sentences.
 */
class OrtFusedEncoderTest {
    @TempDir
    static Path tmp;

    @Test
    void miniLmFusedEqualsThePlainExportOnAPaddedBatch() throws Exception {
        Path checkpoint = Fixtures.path("all-minilm-l6-v2");
        ExportResult plain = Stepwise.export(checkpoint, tmp.resolve("plain"), ExportOptions.defaults());
        ExportResult fused = Stepwise.export(checkpoint, tmp.resolve("ort"),
                ExportOptions.defaults().withOptimize(Optimize.ORT));
        assertTrue(fused.validation().stream().allMatch(c -> c.passed()), "validated against the PyTorch reference");
        fused.validation().forEach(c -> System.out.println("all-MiniLM-L6-v2 --optimize ort validation: " + c));
        assertEquals("ort", ModelConfig.readJson(fused.outputDir().resolve("stepwise.json")).get("optimize")
                .getAsString());

        Set<String> ops = opTypes(fused.modelFile());
        assertTrue(ops.containsAll(Set.of("MultiHeadAttention", "SkipLayerNormalization", "BiasGelu")), ops.toString());
        assertFalse(ops.contains("Softmax"), "attention is one node: " + ops);
        assertFalse(opTypes(plain.modelFile()).contains("MultiHeadAttention"), "the default stays standard ops");

        Map<String, HostTensor> batch = BertMiniLmTest.paddedBatch(BertMiniLmTest.SENTENCES);
        HostTensor a = BertMiniLmTest.run(plain.outputDir(), batch);
        HostTensor b = BertMiniLmTest.run(fused.outputDir(), batch);
        // padded positions too: the fused kernel masks the padded keys exactly as the plain graph does
        double diff = a.maxAbsDiff(b);
        System.out.printf("all-MiniLM-L6-v2 --optimize ort vs plain: last_hidden_state max abs diff %.3g%n", diff);
        assertTrue(diff <= 1e-4, "last_hidden_state max abs diff " + diff);
    }

    @Test
    void distilBertClassifierFusedValidates() throws Exception {
        Path checkpoint = Path.of(DistilBertTest.class.getResource("distilbert-tiny/config.json").toURI()).getParent();
        ExportResult fused = Stepwise.export(checkpoint, tmp.resolve("distilbert-ort"),
                ExportOptions.defaults().withOptimize(Optimize.ORT));
        assertTrue(fused.validation().stream().allMatch(c -> c.passed()));
        fused.validation().forEach(c -> System.out.println("distilbert-tiny --optimize ort validation: " + c));
        assertTrue(opTypes(fused.modelFile()).contains("MultiHeadAttention"));
    }

    @Test
    void halfPrecisionFusedIsRefusedInOneLineAndWritesNothing() {
        Path out = tmp.resolve("fp16-ort");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.export(
                Fixtures.path("all-minilm-l6-v2"), out,
                ExportOptions.defaults().withOptimize(Optimize.ORT).withDtype(DType.FLOAT16)));
        assertTrue(e.getMessage().contains("float32 graphs only"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(Files.exists(out));
    }

    private static Set<String> opTypes(Path model) {
        return OnnxModelReader.load(model).model().getGraph().getNodeList().stream().map(NodeProto::getOpType)
                .collect(Collectors.toSet());
    }
}
