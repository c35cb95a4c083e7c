package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * fill-mask: for every mask token of a text, the {@code topK} most probable tokens (softmax over
 * {@code logits [batch, sequence, vocab]} at that position). The mask token is {@code mask_token} of
 * {@code tokenizer_config.json}, its id from {@code tokenizer.json}'s added tokens.
 */
public final class FillMaskPipeline implements Pipeline {
    private final EncoderRunner runner;
    private final long maskId;
    private final String maskToken;
    private final int topK;
    private final int batchSize;

    public FillMaskPipeline(Path folder, PipelineOptions options) {
        this.maskToken = maskToken(folder);
        this.maskId = tokenId(folder, maskToken);
        this.runner = new EncoderRunner(folder, options.threads(), Task.FILL_MASK.cliName(), "logits", 3);
        this.topK = options.topK();
        this.batchSize = options.batchSize();
    }

    @Override
    public Task task() {
        return Task.FILL_MASK;
    }

    /** Per text, per mask token (left to right), the top-k candidates, best first. */
    public List<List<List<MaskPrediction>>> fill(List<String> texts) {
        List<List<List<MaskPrediction>>> out = new ArrayList<>();
        int[] index = {0};
        runner.runBatches(texts, batchSize, r -> {
            int length = r.tokens().length();
            int vocab = (int) r.output().dim(2);
            long[] ids = r.tokens().inputIds().longs();
            for (int b = 0; b < r.tokens().batch(); b++, index[0]++) {
                long[] row = new long[r.tokens().lengths()[b]];
                for (int t = 0; t < row.length; t++) {
                    row[t] = ids[b * length + r.tokens().column(b, t)];
                }
                List<List<MaskPrediction>> masks = new ArrayList<>();
                for (int t = 0; t < row.length; t++) {
                    if (row[t] == maskId) {
                        int offset = (b * length + r.tokens().column(b, t)) * vocab;
                        masks.add(top(r.output().floats(), offset, vocab, row, t));
                    }
                }
                if (masks.isEmpty()) {
                    throw new StepwiseException("fill-mask: input " + (index[0] + 1) + " has no " + maskToken
                            + " token");
                }
                out.add(masks);
            }
        });
        return out;
    }

    private List<MaskPrediction> top(float[] logits, int offset, int vocab, long[] row, int position) {
        double[] p = TextClassificationPipeline.softmax(logits, offset, vocab);
        List<MaskPrediction> best = new ArrayList<>();
        boolean[] taken = new boolean[vocab];
        for (int k = 0; k < Math.min(topK, vocab); k++) {
            int arg = -1;
            for (int i = 0; i < vocab; i++) {
                if (!taken[i] && (arg < 0 || p[i] > p[arg])) {
                    arg = i;
                }
            }
            taken[arg] = true;
            long[] filled = row.clone();
            filled[position] = arg;
            best.add(new MaskPrediction(p[arg], arg, runner.tokenizer().decode(new long[] {arg}),
                    runner.tokenizer().decode(filled)));
        }
        return best;
    }

    /** One mask: an array of candidates (transformers' shape); several masks: an array of such arrays. */
    @Override
    public List<JsonElement> apply(List<String> inputs) {
        List<JsonElement> out = new ArrayList<>();
        for (List<List<MaskPrediction>> masks : fill(inputs)) {
            JsonArray perMask = new JsonArray();
            for (List<MaskPrediction> candidates : masks) {
                JsonArray c = new JsonArray();
                for (MaskPrediction m : candidates) {
                    JsonObject o = new JsonObject();
                    o.addProperty("score", m.score());
                    o.addProperty("token", m.token());
                    o.addProperty("token_str", m.tokenStr());
                    o.addProperty("sequence", m.sequence());
                    c.add(o);
                }
                perMask.add(c);
            }
            out.add(perMask.size() == 1 ? perMask.get(0) : perMask);
        }
        return out;
    }

    private static String maskToken(Path folder) {
        Path file = folder.resolve("tokenizer_config.json");
        if (Files.isRegularFile(file)) {
            JsonElement m = ModelConfig.readJson(file).get("mask_token");
            if (m != null && m.isJsonPrimitive()) {
                return m.getAsString();
            }
            if (m != null && m.isJsonObject() && m.getAsJsonObject().has("content")) {
                return m.getAsJsonObject().get("content").getAsString();
            }
        }
        return "[MASK]";
    }

    private static long tokenId(Path folder, String token) {
        Path file = folder.resolve("tokenizer.json");
        if (Files.isRegularFile(file)) {
            JsonElement added = ModelConfig.readJson(file).get("added_tokens");
            if (added != null && added.isJsonArray()) {
                for (JsonElement e : added.getAsJsonArray()) {
                    if (e.isJsonObject() && token.equals(e.getAsJsonObject().get("content").getAsString())) {
                        return e.getAsJsonObject().get("id").getAsLong();
                    }
                }
            }
        }
        throw new StepwiseException(file + ": the mask token '" + token + "' is not among its added_tokens");
    }

    @Override
    public void close() {
        runner.close();
    }
}
