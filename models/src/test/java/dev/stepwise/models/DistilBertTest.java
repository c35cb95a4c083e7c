package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.tensor.HostTensor;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny random DistilBertForSequenceClassification written by transformers' save_pretrained
 * ({@code tools/distilbert_tiny.py}), exported for text-classification (from its config) and feature-extraction,
 * against transformers' own logits and hidden states on a right-padded batch.
 */
class DistilBertTest {
    @TempDir
    static Path tmp;
    static Path checkpoint;
    static JsonObject golden;

    @BeforeAll
    static void locate() throws URISyntaxException {
        checkpoint = Path.of(DistilBertTest.class.getResource("distilbert-tiny/config.json").toURI()).getParent();
        golden = ModelConfig.readJson(checkpoint.resolve("goldens.json"));
    }

    @Test
    void classificationLogitsEqualTransformers() throws OrtException {
        ExportResult r = Stepwise.export(checkpoint, tmp.resolve("cls"), ExportOptions.defaults());
        assertEquals("text-classification",
                ModelConfig.readJson(r.outputDir().resolve("stepwise.json")).get("task").getAsString());
        assertTrue(r.validation().stream().allMatch(c -> c.passed()));
        double diff = maxDiff(run(r.outputDir(), "logits"), golden.get("logits"));
        System.out.printf("distilbert-tiny text-classification logits vs transformers: max abs diff %.3g%n", diff);
        assertTrue(diff <= 1e-4, "logits " + diff);
    }

    @Test
    void lastHiddenStateEqualsTransformers() throws OrtException {
        ExportResult r = Stepwise.export(checkpoint, tmp.resolve("features"),
                ExportOptions.defaults().withTask(Task.FEATURE_EXTRACTION));
        double diff = maxDiff(run(r.outputDir(), "last_hidden_state"), golden.get("last_hidden_state"));
        System.out.printf("distilbert-tiny last_hidden_state vs transformers: max abs diff %.3g%n", diff);
        assertTrue(diff <= 1e-4, "last_hidden_state " + diff);
    }

    @Test
    void aTaskWhoseHeadTheCheckpointLacksIsOneLineNamingTheTensor() {
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.export(checkpoint,
                tmp.resolve("mlm"), ExportOptions.defaults().withTask(Task.FILL_MASK)));
        assertTrue(e.getMessage().contains("vocab_transform.weight"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void aDecoderTaskIsRefused() {
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.export(checkpoint,
                tmp.resolve("gen"), ExportOptions.defaults().withTask(Task.TEXT_GENERATION)));
        assertEquals("distilbert does not support task text-generation (supported: feature-extraction,"
                + " text-classification, fill-mask)", e.getMessage());
    }

    private static HostTensor run(Path folder, String output) throws OrtException {
        Map<String, HostTensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", longs(golden.getAsJsonArray("input_ids")));
        feed.put("attention_mask", longs(golden.getAsJsonArray("attention_mask")));
        try (OrtSession s = OrtSessions.open(folder.resolve("model.onnx"), 1)) {
            assertEquals(List.of("input_ids", "attention_mask"), List.copyOf(s.getInputNames()));
            Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
            try {
                for (Map.Entry<String, HostTensor> e : feed.entrySet()) {
                    tensors.put(e.getKey(), OrtTensors.create(OrtSessions.environment(), e.getValue(), DType.INT64));
                }
                try (OrtSession.Result r = s.run(tensors)) {
                    return OrtTensors.toHostFloats((OnnxTensor) r.get(output).orElseThrow());
                }
            } finally {
                tensors.values().forEach(OnnxTensor::close);
            }
        }
    }

    private static HostTensor longs(JsonArray rows) {
        int cols = rows.get(0).getAsJsonArray().size();
        long[] v = new long[rows.size() * cols];
        for (int b = 0; b < rows.size(); b++) {
            for (int t = 0; t < cols; t++) {
                v[b * cols + t] = rows.get(b).getAsJsonArray().get(t).getAsLong();
            }
        }
        return HostTensor.ofLongs(v, rows.size(), cols);
    }

    /** Max |got - expected| over a nested JSON array of the same layout, flattened in order. */
    private static double maxDiff(HostTensor got, JsonElement expected) {
        List<Double> flat = new java.util.ArrayList<>();
        flatten(expected, flat);
        assertEquals(flat.size(), got.floats().length);
        double worst = 0;
        for (int i = 0; i < flat.size(); i++) {
            worst = Math.max(worst, Math.abs(got.floats()[i] - flat.get(i)));
        }
        return worst;
    }

    private static void flatten(JsonElement e, List<Double> out) {
        if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> flatten(x, out));
        } else {
            out.add(e.getAsDouble());
        }
    }
}
