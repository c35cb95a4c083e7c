package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * text-classification: {@code logits [batch, num_labels]} turned into probabilities over {@code id2label} of
 * config.json, as transformers' pipeline does: softmax, or a sigmoid per label when the config says
 * {@code problem_type = multi_label_classification} or has one label.
 */
public final class TextClassificationPipeline implements Pipeline {
    private final EncoderRunner runner;
    private final List<String> labels;
    private final boolean sigmoid;
    private final int batchSize;

    public TextClassificationPipeline(Path folder, PipelineOptions options) {
        Path configFile = folder.resolve("config.json");
        var json = ModelConfig.readJson(configFile);
        this.labels = ModelConfig.labels(json, configFile);
        var problem = json.get("problem_type");
        this.sigmoid = labels.size() == 1 || (problem != null && problem.isJsonPrimitive()
                && problem.getAsString().equals("multi_label_classification"));
        this.runner = new EncoderRunner(folder, options.threads(), Task.TEXT_CLASSIFICATION.cliName(), "logits", 2);
        this.batchSize = options.batchSize();
    }

    @Override
    public Task task() {
        return Task.TEXT_CLASSIFICATION;
    }

    public List<String> labels() {
        return labels;
    }

    /** Per text, every label's probability, in label order. */
    public List<List<LabelScore>> classify(List<String> texts) {
        List<List<LabelScore>> out = new ArrayList<>();
        runner.runBatches(texts, batchSize, r -> {
            int n = (int) r.output().dim(1);
            if (n != labels.size()) {
                throw new dev.stepwise.runtime.StepwiseException(runner.folder() + ": the model gives " + n
                        + " logits but config.json's id2label has " + labels.size() + " labels");
            }
            float[] logits = r.output().floats();
            for (int b = 0; b < r.tokens().batch(); b++) {
                double[] p = sigmoid ? sigmoid(logits, b * n, n) : softmax(logits, b * n, n);
                List<LabelScore> row = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    row.add(new LabelScore(labels.get(i), i, p[i]));
                }
                out.add(row);
            }
        });
        return out;
    }

    /** {@code {"label": best, "score": p, "scores": [every label, best first]}} per text. */
    @Override
    public List<JsonElement> apply(List<String> inputs) {
        List<JsonElement> out = new ArrayList<>();
        for (List<LabelScore> row : classify(inputs)) {
            List<LabelScore> sorted = new ArrayList<>(row);
            sorted.sort(Comparator.comparingDouble(LabelScore::score).reversed());
            JsonObject o = new JsonObject();
            o.addProperty("label", sorted.get(0).label());
            o.addProperty("score", sorted.get(0).score());
            JsonArray all = new JsonArray();
            for (LabelScore s : sorted) {
                JsonObject e = new JsonObject();
                e.addProperty("label", s.label());
                e.addProperty("score", s.score());
                all.add(e);
            }
            o.add("scores", all);
            out.add(o);
        }
        return out;
    }

    static double[] softmax(float[] x, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[offset + i]);
        }
        double sum = 0;
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(x[offset + i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static double[] sigmoid(float[] x, int offset, int n) {
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
            p[i] = 1 / (1 + Math.exp(-x[offset + i]));
        }
        return p;
    }

    @Override
    public void close() {
        runner.close();
    }
}
