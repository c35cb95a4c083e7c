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
        } else if (options.mode() == QuantizeMode.INT8) {
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

    /** int8: the smoothing strength and, per file, how many activations were smoothed (encoders only). */
    void smoothing(double alpha, Map<String, Integer> perFile) {
        JsonObject o = new JsonObject();
        o.addProperty("alpha", alpha);
        o.addProperty("calibration", "built-in");
        JsonObject files = new JsonObject();
        perFile.forEach(files::addProperty);
        o.add("activations_smoothed", files);
        json.add("smoothing", o);
    }

    /** {@code --mode int8-static}: the calibration, how many activations it observed, and those it never saw. */
    void staticQdq(StaticQdqOptions qdq, int observed, java.util.Collection<String> uncalibrated) {
        JsonObject c = new JsonObject();
        c.addProperty("inputs", qdq.calibration() == null ? "built-in" : qdq.calibration().toString());
        c.addProperty("method", qdq.method().cliName());
        if (qdq.method() == CalibrationMethod.PERCENTILE) {
            c.addProperty("percentile", qdq.percentile());
        }
        c.addProperty("activations_observed", observed);
        JsonArray missing = new JsonArray();
        uncalibrated.forEach(missing::add);
        c.add("uncalibrated_left_float", missing);
        json.add("calibration", c);
    }

    /** An unrolled folder's step-chain comparison, with its per-step figures. */
    void stepChain(StepChainGate.ChainFigures f) {
        JsonObject o = f.all().toJson();
        JsonArray top1 = new JsonArray();
        JsonArray kl = new JsonArray();
        for (int s = 0; s < f.top1PerStep().length; s++) {
            top1.add(f.top1PerStep()[s]);
            kl.add(f.klPerStep()[s]);
        }
        o.add("top1_per_step", top1);
        o.add("mean_kl_per_step", kl);
        quality.add(o);
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
