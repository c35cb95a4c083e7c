package dev.stepwise.runtime.quantize;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** {@code quantize-report.json}: the scheme, sizes before and after, op counts per file, the gate's figures. */
final class QuantizeReport {
    static final String FILE = "quantize-report.json";

    private final JsonObject json = new JsonObject();
    private final JsonObject ops = new JsonObject();
    private final JsonArray quality = new JsonArray();

    QuantizeReport(Path source, QuantizeOptions options) {
        json.addProperty("source", source.toAbsolutePath().normalize().toString());
        json.addProperty("mode", options.mode().cliName());
        json.addProperty("scheme", options.describe());
        if (options.mode() == QuantizeMode.INT4) {
            json.addProperty("block_size", options.int4().blockSize());
            json.addProperty("symmetric", options.int4().symmetric());
            json.addProperty("accuracy_level", options.int4().accuracyLevel());
        } else {
            json.addProperty("per_channel", options.scheme().perChannel());
            json.addProperty("symmetric", options.scheme().symmetric());
            json.addProperty("reduce_range", options.scheme().reduceRange());
        }
        json.addProperty("embeddings_quantized", options.embeddings());
        if (options.keepFloat() != null) {
            json.addProperty("keep_float", options.keepFloat().pattern());
        }
        JsonObject thresholds = new JsonObject();
        thresholds.addProperty("min_top1", options.minTop1());
        thresholds.addProperty("max_kl", options.maxKl());
        thresholds.addProperty("min_cosine", options.minCosine());
        json.addProperty("gate", options.gate());
        json.add("thresholds", thresholds);
        json.add("op_counts", ops);
        json.add("quality", quality);
    }

    void opCounts(String file, Map<String, Integer> counts) {
        JsonObject o = new JsonObject();
        counts.forEach(o::addProperty);
        ops.add(file, o);
    }

    void quality(QualityFigures f) {
        quality.add(f.toJson());
    }

    void finish(long before, long after, Map<String, Integer> quantized, double seconds) {
        json.addProperty("bytes_before", before);
        json.addProperty("bytes_after", after);
        JsonObject q = new JsonObject();
        quantized.forEach(q::addProperty);
        json.add("quantized_nodes", q);
        json.addProperty("seconds", seconds);
    }

    void write(Path dir) {
        try {
            Files.writeString(dir.resolve(FILE), new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
                    .create().toJson(json), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StepwiseException(dir + ": cannot write " + FILE + ": " + e.getMessage(), e);
        }
    }
}
