package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.pipeline.FeatureExtractionPipeline;
import dev.stepwise.runtime.pipeline.Pipeline;
import dev.stepwise.runtime.pipeline.PipelineOptions;
import dev.stepwise.runtime.pipeline.Pooling;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2 checkpoint exported with no options (task from config.json's architectures), against the
 * upstream fp32 ONNX file of the same weights (Xenova's optimum export, from its Maven artifact), on real sentences of
 * different lengths padded into one batch.
 */
class BertMiniLmTest {
    static final List<String> SENTENCES = List.of(
            "The cat sits outside.",
            "A man is playing guitar on a crowded street corner while people walk past.",
            "I love pasta.",
            "Do you like pizza?",
            "The new movie is awesome, everyone in the theatre cheered at the end of it.",
            "Stepwise exports encoders too.");

    @TempDir
    static Path tmp;
    static Path exported;
    static Path upstream;
    static ExportResult result;

    @BeforeAll
    static void export() throws IOException {
        result = Stepwise.export(Fixtures.path("all-minilm-l6-v2"), tmp.resolve("export"), ExportOptions.defaults());
        exported = result.outputDir();
        // the upstream file in optimum's folder layout, with the fixture's tokenizer and config
        upstream = Files.createDirectories(tmp.resolve("upstream"));
        try (InputStream in = BertMiniLmTest.class.getResourceAsStream("/all-minilm-l6-v2.onnx")) {
            Files.copy(in, upstream.resolve("model.onnx"));
        }
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(Fixtures.path("all-minilm-l6-v2").resolve(f), upstream.resolve(f));
        }
    }

    @Test
    void exportHasOptimumsContractAndManifest() throws OrtException {
        JsonObject manifest = ModelConfig.readJson(exported.resolve("stepwise.json"));
        assertEquals("encoder", manifest.get("format").getAsString());
        assertEquals("feature-extraction", manifest.get("task").getAsString());
        assertEquals("last_hidden_state", manifest.getAsJsonObject("output").get("name").getAsString());
        assertTrue(Files.isRegularFile(exported.resolve("tokenizer.json")));
        assertTrue(result.validation().stream().allMatch(c -> c.passed()));
        try (OrtSession ours = OrtSessions.open(exported.resolve("model.onnx"), 1);
             OrtSession theirs = OrtSessions.open(upstream.resolve("model.onnx"), 1)) {
            assertEquals(theirs.getInputNames(), ours.getInputNames());
            assertEquals(List.of("last_hidden_state"), List.copyOf(ours.getOutputNames()));
            assertEquals("[batch_size, sequence_length]", symbolic(ours, "input_ids"));
            assertEquals("[batch_size, sequence_length, 384]", symbolicOutput(ours, "last_hidden_state"));
        }
    }

    @Test
    void lastHiddenStateMatchesTheUpstreamFileOnAPaddedBatch() throws OrtException {
        Map<String, HostTensor> batch = paddedBatch(SENTENCES);
        HostTensor ours = run(exported, batch);
        HostTensor theirs = run(upstream, batch);
        assertArrayEquals(theirs.shape(), ours.shape());
        double diff = ours.maxAbsDiff(theirs);
        long padded = java.util.Arrays.stream(batch.get("attention_mask").longs()).filter(m -> m == 0).count();
        System.out.printf("all-MiniLM-L6-v2 export vs upstream ONNX: last_hidden_state %s, %d padded slots, max abs"
                + " diff %.3g%n", java.util.Arrays.toString(ours.shape()), padded, diff);
        assertTrue(padded > 0, "the batch is padded");
        assertTrue(diff <= 1e-4, "max abs diff " + diff);
    }

    @Test
    void featureExtractionPipelineGivesTheUpstreamSentenceEmbeddings() throws OrtException {
        PipelineOptions options = PipelineOptions.defaults().withNormalize(true).withBatchSize(4);
        float[][] ours;
        try (Pipeline p = Stepwise.pipeline("feature-extraction", exported, options)) {
            assertEquals(Pooling.MEAN, ((FeatureExtractionPipeline) p).pooling());
            ours = ((FeatureExtractionPipeline) p).embed(SENTENCES);
        }
        // the upstream side pooled here, independently of the pipeline: mask-weighted mean, then L2 norm
        Map<String, HostTensor> batch = paddedBatch(SENTENCES);
        HostTensor hidden = run(upstream, batch);
        double worst = 1;
        for (int b = 0; b < SENTENCES.size(); b++) {
            worst = Math.min(worst, cosine(ours[b], meanPooled(hidden, batch.get("attention_mask"), b)));
        }
        System.out.printf("all-MiniLM-L6-v2 pipeline feature-extraction vs upstream: least cosine %.9f (1 - cos"
                + " = %.2g) over %d sentences%n", worst, 1 - worst, SENTENCES.size());
        assertTrue(worst >= 0.99999, "cosine " + worst);
        for (float[] v : ours) {
            assertEquals(1.0, Math.sqrt(dot(v, v)), 1e-5, "normalised");
        }
        // the same pipeline runs on optimum's own folder (the upstream file) and agrees with itself
        try (FeatureExtractionPipeline p = new FeatureExtractionPipeline(upstream, options)) {
            float[][] theirs = p.embed(SENTENCES);
            for (int b = 0; b < SENTENCES.size(); b++) {
                assertTrue(cosine(ours[b], theirs[b]) >= 0.99999);
            }
        }
    }

    @Test
    void halfPrecisionExportValidates() {
        ExportResult half = Stepwise.export(Fixtures.path("all-minilm-l6-v2"), tmp.resolve("fp16"),
                ExportOptions.defaults().withDtype(DType.FLOAT16));
        assertTrue(half.validation().stream().allMatch(c -> c.passed()));
    }

    /** Right-padded ids, mask and types of {@code texts}, tokenized here through the fixture's tokenizer.json. */
    static Map<String, HostTensor> paddedBatch(List<String> texts) {
        try (TextTokenizer tokenizer = TextTokenizer.open(Fixtures.path("all-minilm-l6-v2"))) {
            List<TextTokenizer.Encoded> rows = texts.stream().map(tokenizer::encodeWithTypes).toList();
            int length = rows.stream().mapToInt(r -> r.ids().length).max().orElseThrow();
            long[] ids = new long[texts.size() * length];
            long[] mask = new long[ids.length];
            long[] types = new long[ids.length];
            for (int b = 0; b < rows.size(); b++) {
                for (int t = 0; t < rows.get(b).ids().length; t++) {
                    ids[b * length + t] = rows.get(b).ids()[t];
                    types[b * length + t] = rows.get(b).typeIds()[t];
                    mask[b * length + t] = 1;
                }
            }
            Map<String, HostTensor> batch = new LinkedHashMap<>();
            batch.put("input_ids", HostTensor.ofLongs(ids, texts.size(), length));
            batch.put("attention_mask", HostTensor.ofLongs(mask, texts.size(), length));
            batch.put("token_type_ids", HostTensor.ofLongs(types, texts.size(), length));
            return batch;
        }
    }

    static HostTensor run(Path folder, Map<String, HostTensor> batch) throws OrtException {
        try (OrtSession s = OrtSessions.open(folder.resolve("model.onnx"), 0)) {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            try {
                for (String name : s.getInputNames()) {
                    feed.put(name, OrtTensors.create(OrtSessions.environment(), batch.get(name), DType.INT64));
                }
                try (OrtSession.Result r = s.run(feed)) {
                    return OrtTensors.toHostFloats((OnnxTensor) r.get("last_hidden_state").orElseThrow());
                }
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    static float[] meanPooled(HostTensor hidden, HostTensor mask, int b) {
        int length = (int) hidden.dim(1);
        int size = (int) hidden.dim(2);
        float[] sum = new float[size];
        int n = 0;
        for (int t = 0; t < length; t++) {
            if (mask.longs()[b * length + t] == 1) {
                n++;
                for (int i = 0; i < size; i++) {
                    sum[i] += hidden.floats()[(b * length + t) * size + i];
                }
            }
        }
        for (int i = 0; i < size; i++) {
            sum[i] /= n;
        }
        return sum;
    }

    static double cosine(float[] a, float[] b) {
        return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    private static String symbolic(OrtSession s, String input) throws OrtException {
        return dims(((ai.onnxruntime.TensorInfo) s.getInputInfo().get(input).getInfo()));
    }

    private static String symbolicOutput(OrtSession s, String output) throws OrtException {
        return dims(((ai.onnxruntime.TensorInfo) s.getOutputInfo().get(output).getInfo()));
    }

    private static String dims(ai.onnxruntime.TensorInfo info) {
        String[] names = info.getDimensionNames();
        long[] shape = info.getShape();
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i > 0 ? ", " : "").append(names[i] != null && !names[i].isEmpty() ? names[i] : shape[i]);
        }
        return sb.append("]").toString();
    }
}
