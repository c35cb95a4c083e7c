package dev.stepwise.runtime.unroll;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code unroll.json}: the shapes the step graphs were built for, read back by {@code generate}. */
public record UnrollManifest(String modelType, int batch, int sequence, int maxNewTokens, boolean lastTokenLogits,
                             List<GenStep> steps) {

    static void write(Path file, String modelType, UnrollOptions options, List<GenStep> steps) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("format", "gen-step-graphs");
        o.addProperty("model_type", modelType);
        o.addProperty("batch_size", options.batch());
        o.addProperty("sequence_length", options.sequence());
        o.addProperty("max_new_tokens", options.maxNewTokens());
        o.addProperty("last_token_logits", options.lastTokenLogits());
        o.addProperty("weights_file", Unroller.WEIGHTS_FILE);
        JsonArray files = new JsonArray();
        steps.forEach(s -> files.add(s.fileName()));
        o.add("steps", files);
        Files.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o), StandardCharsets.UTF_8);
    }

    /** Reads a folder's manifest, or returns null when the folder is not an unrolled model. */
    public static UnrollManifest readIfPresent(Path dir) {
        Path file = dir.resolve(Unroller.MANIFEST_FILE);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonObject o = ModelConfig.readJson(file);
        try {
            int batch = o.get("batch_size").getAsInt();
            int sequence = o.get("sequence_length").getAsInt();
            int steps = o.get("steps").getAsJsonArray().size();
            List<GenStep> list = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                GenStep step = GenStep.of(s, batch, sequence);
                if (!Files.isRegularFile(dir.resolve(step.fileName()))) {
                    throw new StepwiseException(dir + ": step graph " + step.fileName() + " is missing");
                }
                list.add(step);
            }
            return new UnrollManifest(o.get("model_type").getAsString(), batch, sequence,
                    o.get("max_new_tokens").getAsInt(), o.get("last_token_logits").getAsBoolean(), list);
        } catch (RuntimeException e) {
            if (e instanceof StepwiseException se) {
                throw se;
            }
            throw new StepwiseException(file + ": not a valid unroll manifest: " + e.getMessage(), e);
        }
    }
}
