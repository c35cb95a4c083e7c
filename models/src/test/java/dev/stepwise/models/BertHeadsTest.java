package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.reference.TorchOps;
import dev.stepwise.runtime.pipeline.FillMaskPipeline;
import dev.stepwise.runtime.pipeline.LabelScore;
import dev.stepwise.runtime.pipeline.MaskPrediction;
import dev.stepwise.runtime.pipeline.PipelineOptions;
import dev.stepwise.runtime.pipeline.TextClassificationPipeline;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BERT's task heads on the trained MiniLM body: BertForSequenceClassification with the seeded head of
 * {@code tools/bert_classifier_goldens.py} (goldens from transformers 5.17), and BertForMaskedLM with a seeded MLM
 * head. Each is exported with no options (the task comes from config.json), validated against the PyTorch engine at
 * export, and run through its pipeline, whose probabilities must equal the PyTorch engine's and transformers'.
 */
class BertHeadsTest {
    @TempDir
    static Path tmp;
    static Path classifierCheckpoint;
    static ExportResult classifier;
    static JsonObject golden;

    @BeforeAll
    static void export() throws IOException {
        classifierCheckpoint = BertHeadCheckpoint.classifier(tmp.resolve("classifier-checkpoint"));
        classifier = Stepwise.export(classifierCheckpoint, tmp.resolve("classifier"), ExportOptions.defaults());
        try (Reader r = new InputStreamReader(BertHeadsTest.class.getResourceAsStream("bert-classifier-golden.json"),
                StandardCharsets.UTF_8)) {
            golden = JsonParser.parseReader(r).getAsJsonObject();
        }
    }

    static List<String> sentences() {
        return golden.getAsJsonArray("sentences").asList().stream().map(JsonElement::getAsString).toList();
    }

    @Test
    void classifierExportIsTextClassificationAndValidates() {
        JsonObject manifest = ModelConfig.readJson(classifier.outputDir().resolve("stepwise.json"));
        assertEquals("text-classification", manifest.get("task").getAsString());
        assertEquals("logits", manifest.getAsJsonObject("output").get("name").getAsString());
        assertTrue(classifier.validation().stream().allMatch(c -> c.passed()), classifier.validation().toString());
    }

    @Test
    void tokenizationEqualsTransformers() {
        try (TextTokenizer t = TextTokenizer.open(classifier.outputDir())) {
            JsonArray expected = golden.getAsJsonArray("input_ids");
            for (int i = 0; i < expected.size(); i++) {
                long[] ids = expected.get(i).getAsJsonArray().asList().stream().mapToLong(JsonElement::getAsLong).toArray();
                assertArrayEquals(ids, t.encode(sentences().get(i)), sentences().get(i));
            }
        }
    }

    @Test
    void textClassificationPipelineMatchesThePyTorchEngineAndTransformers() {
        List<List<LabelScore>> got;
        try (TextClassificationPipeline p = new TextClassificationPipeline(classifier.outputDir(),
                PipelineOptions.defaults().withBatchSize(4))) {
            assertEquals(BertHeadCheckpoint.LABELS, p.labels());
            got = p.classify(sentences());
        }
        double[][] torch = torchProbabilities(classifierCheckpoint, sentences());
        JsonArray transformers = golden.getAsJsonArray("probabilities");
        double vsTorch = 0;
        double vsTransformers = 0;
        for (int b = 0; b < got.size(); b++) {
            for (int c = 0; c < 3; c++) {
                double p = got.get(b).get(c).score();
                vsTorch = Math.max(vsTorch, Math.abs(p - torch[b][c]));
                vsTransformers = Math.max(vsTransformers,
                        Math.abs(p - transformers.get(b).getAsJsonArray().get(c).getAsDouble()));
            }
        }
        System.out.printf("BertForSequenceClassification pipeline: max |p - PyTorch engine| %.3g, max |p -"
                + " transformers| %.3g over %d sentences x 3 labels%n", vsTorch, vsTransformers, got.size());
        assertTrue(vsTorch <= 1e-5, "vs PyTorch engine " + vsTorch);
        assertTrue(vsTransformers <= 1e-5, "vs transformers " + vsTransformers);
    }

    /** The same forward run eagerly on the PyTorch engine, one padded batch, softmax in Java. */
    static double[][] torchProbabilities(Path checkpoint, List<String> texts) {
        Map<String, HostTensor> batch = BertMiniLmTest.paddedBatch(texts);
        try (Checkpoint weights = Checkpoint.open(checkpoint); TorchOps ops = new TorchOps(weights)) {
            ModelConfig config = BertExporter.config(checkpoint).modelConfig();
            EncoderInputs in = new EncoderInputs(ops.input(batch.get("input_ids")), ops.input(batch.get("attention_mask")),
                    ops.input(batch.get("token_type_ids")), null);
            HostTensor logits = ops.toHost(new Bert().forward(ops, config, in, Task.TEXT_CLASSIFICATION));
            int n = (int) logits.dim(1);
            double[][] p = new double[texts.size()][];
            for (int b = 0; b < texts.size(); b++) {
                p[b] = softmax(logits.floats(), b * n, n);
            }
            return p;
        }
    }

    @Test
    void fillMaskExportAndPipelineMatchThePyTorchEngine() throws IOException {
        JsonObject changes = new JsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add("BertForMaskedLM");
        changes.add("architectures", architectures);
        Path checkpoint = BertHeadCheckpoint.write(tmp.resolve("mlm-checkpoint"), 7, List.of(
                new BertHeadCheckpoint.Head("cls.predictions.transform.dense.weight", new long[] {384, 384}, 0.2),
                new BertHeadCheckpoint.Head("cls.predictions.transform.dense.bias", new long[] {384}, 0.2),
                new BertHeadCheckpoint.Head("cls.predictions.transform.LayerNorm.weight", new long[] {384}, 2.0),
                new BertHeadCheckpoint.Head("cls.predictions.transform.LayerNorm.bias", new long[] {384}, 0.2),
                new BertHeadCheckpoint.Head("cls.predictions.bias", new long[] {30522}, 0.2)), changes);
        ExportResult mlm = Stepwise.export(checkpoint, tmp.resolve("mlm"), ExportOptions.defaults());
        assertEquals("fill-mask", ModelConfig.readJson(mlm.outputDir().resolve("stepwise.json")).get("task").getAsString());
        assertTrue(mlm.validation().stream().allMatch(c -> c.passed()));

        List<String> texts = List.of("The capital of France is [MASK].", "I [MASK] to the [MASK] yesterday.");
        List<List<List<MaskPrediction>>> got;
        try (FillMaskPipeline p = new FillMaskPipeline(mlm.outputDir(), PipelineOptions.defaults().withTopK(3))) {
            got = p.fill(texts);
        }
        assertEquals(1, got.get(0).size());
        assertEquals(2, got.get(1).size());
        // the PyTorch engine's softmax at the mask positions
        Map<String, HostTensor> batch = BertMiniLmTest.paddedBatch(texts);
        try (Checkpoint weights = Checkpoint.open(checkpoint); TorchOps ops = new TorchOps(weights)) {
            ModelConfig config = BertExporter.config(checkpoint).modelConfig();
            EncoderInputs in = new EncoderInputs(ops.input(batch.get("input_ids")), ops.input(batch.get("attention_mask")),
                    ops.input(batch.get("token_type_ids")), null);
            HostTensor logits = ops.toHost(new Bert().forward(ops, config, in, Task.FILL_MASK));
            int length = (int) logits.dim(1);
            int vocab = (int) logits.dim(2);
            long[] ids = batch.get("input_ids").longs();
            double worst = 0;
            for (int b = 0; b < texts.size(); b++) {
                int mask = 0;
                for (int t = 0; t < length; t++) {
                    if (ids[b * length + t] == 103) {
                        double[] p = softmax(logits.floats(), (b * length + t) * vocab, vocab);
                        MaskPrediction best = got.get(b).get(mask++).get(0);
                        int arg = 0;
                        for (int i = 1; i < vocab; i++) {
                            arg = p[i] > p[arg] ? i : arg;
                        }
                        assertEquals(arg, best.token());
                        worst = Math.max(worst, Math.abs(best.score() - p[arg]));
                    }
                }
            }
            System.out.printf("BertForMaskedLM pipeline: top-1 equals the PyTorch engine's at 3 masks, max |p| diff %.3g%n",
                    worst);
            assertTrue(worst <= 1e-5);
        }
    }

    static double[] softmax(float[] x, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[offset + i]);
        }
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(x[offset + i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }
}
