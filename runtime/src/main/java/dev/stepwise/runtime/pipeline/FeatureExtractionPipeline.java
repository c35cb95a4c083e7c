package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * feature-extraction: {@code last_hidden_state} pooled into one vector per text (mean of the real tokens, or the
 * first token), optionally L2-normalised — sentence-transformers' {@code encode} — or every real token's vector with
 * {@link Pooling#NONE}. Pooling and normalisation default to what a sentence-transformers folder declares.
 */
public final class FeatureExtractionPipeline implements Pipeline {
    private final EncoderRunner runner;
    private final Pooling pooling;
    private final boolean normalize;
    private final int batchSize;

    public FeatureExtractionPipeline(Path folder, PipelineOptions options) {
        this.runner = new EncoderRunner(folder, options.threads(), Task.FEATURE_EXTRACTION.cliName(),
                "last_hidden_state", 3);
        this.pooling = options.pooling() != null ? options.pooling() : declaredPooling(folder);
        this.normalize = options.normalize() != null ? options.normalize() : declaresNormalize(folder);
        this.batchSize = options.batchSize();
    }

    @Override
    public Task task() {
        return Task.FEATURE_EXTRACTION;
    }

    public Pooling pooling() {
        return pooling;
    }

    public boolean normalizes() {
        return normalize;
    }

    /** One vector per text (mean or CLS pooling; NONE is refused here, see {@link #tokenVectors}). */
    public float[][] embed(List<String> texts) {
        if (pooling == Pooling.NONE) {
            throw new IllegalStateException("pooling is NONE: use tokenVectors");
        }
        List<float[]> out = new ArrayList<>();
        runner.runBatches(texts, batchSize, r -> {
            for (int b = 0; b < r.tokens().batch(); b++) {
                float[] v = pooling == Pooling.CLS ? token(r, b, 0) : mean(r, b);
                out.add(normalize ? l2Normalized(v) : v);
            }
        });
        return out.toArray(new float[0][]);
    }

    /** Every real token's vector, per text: {@code [tokens][hidden]} (normalised per token when asked). */
    public List<float[][]> tokenVectors(List<String> texts) {
        List<float[][]> out = new ArrayList<>();
        runner.runBatches(texts, batchSize, r -> {
            for (int b = 0; b < r.tokens().batch(); b++) {
                float[][] rows = new float[r.tokens().lengths()[b]][];
                for (int t = 0; t < rows.length; t++) {
                    rows[t] = normalize ? l2Normalized(token(r, b, t)) : token(r, b, t);
                }
                out.add(rows);
            }
        });
        return out;
    }

    @Override
    public List<JsonElement> apply(List<String> inputs) {
        List<JsonElement> out = new ArrayList<>();
        if (pooling == Pooling.NONE) {
            for (float[][] rows : tokenVectors(inputs)) {
                JsonArray tokens = new JsonArray();
                for (float[] row : rows) {
                    tokens.add(array(row));
                }
                JsonObject o = new JsonObject();
                o.add("last_hidden_state", tokens);
                out.add(o);
            }
            return out;
        }
        for (float[] v : embed(inputs)) {
            JsonObject o = new JsonObject();
            o.add("embedding", array(v));
            out.add(o);
        }
        return out;
    }

    private static float[] token(EncoderRunner.Result r, int b, int t) {
        HostTensor h = r.output();
        int length = (int) h.dim(1);
        int hidden = (int) h.dim(2);
        float[] v = new float[hidden];
        System.arraycopy(h.floats(), (b * length + r.tokens().column(b, t)) * hidden, v, 0, hidden);
        return v;
    }

    /** Mean over the real tokens, summed in double (sentence-transformers sums masked vectors, then divides). */
    private static float[] mean(EncoderRunner.Result r, int b) {
        int n = r.tokens().lengths()[b];
        int hidden = (int) r.output().dim(2);
        double[] sum = new double[hidden];
        for (int t = 0; t < n; t++) {
            float[] v = token(r, b, t);
            for (int i = 0; i < hidden; i++) {
                sum[i] += v[i];
            }
        }
        float[] m = new float[hidden];
        for (int i = 0; i < hidden; i++) {
            m[i] = (float) (sum[i] / Math.max(n, 1));
        }
        return m;
    }

    /** {@code v / max(||v||, 1e-12)}, as torch.nn.functional.normalize. */
    static float[] l2Normalized(float[] v) {
        double norm = 0;
        for (float x : v) {
            norm += (double) x * x;
        }
        double scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * scale);
        }
        return out;
    }

    private static JsonArray array(float[] v) {
        JsonArray a = new JsonArray(v.length);
        for (float x : v) {
            a.add(x);
        }
        return a;
    }

    /** sentence-transformers' {@code 1_Pooling/config.json}: CLS when it says so, else mean. */
    private static Pooling declaredPooling(Path folder) {
        Path file = folder.resolve("1_Pooling/config.json");
        if (Files.isRegularFile(file)) {
            JsonObject c = ModelConfig.readJson(file);
            JsonElement cls = c.get("pooling_mode_cls_token");
            if (cls != null && cls.isJsonPrimitive() && cls.getAsBoolean()) {
                return Pooling.CLS;
            }
        }
        return Pooling.MEAN;
    }

    /** True when {@code modules.json} lists a {@code Normalize} module. */
    private static boolean declaresNormalize(Path folder) {
        Path file = folder.resolve("modules.json");
        try {
            return Files.isRegularFile(file) && Files.readString(file).contains("sentence_transformers.models.Normalize");
        } catch (java.io.IOException e) {
            throw new dev.stepwise.runtime.StepwiseException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        runner.close();
    }
}
