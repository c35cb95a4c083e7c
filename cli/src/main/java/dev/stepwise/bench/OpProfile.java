package dev.stepwise.bench;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.Validator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * ONNX Runtime's profiler on one decode step of an export, summarised by op type: the kernel time of each op type
 * (summed over its nodes), in ms per step, averaged over {@code steps} runs of the same step (one new token after a
 * past of {@code past} random keys/values, batch 1); the warm-up runs before them are not counted.
 *
 * @param past    the past length of the profiled step
 * @param byOp    ms per step by op type ({@code com.microsoft.} ops keep their op name), largest first
 * @param totalMs the sum of {@code byOp}: kernel time, without the session's own overhead
 */
public record OpProfile(int past, Map<String, Double> byOp, double totalMs) {
    private static final int WARMUP = 2;

    public static OpProfile decodeStep(Path exportDir, Architecture architecture, ModelConfig config, int past,
                                       int steps, int threads, Path work) {
        DummyInputs in = architecture.dummyInputs(config, 1, 1, past, 99);
        String prefix = work.resolve("ort-profile").toString();
        Path file;
        try (OrtSession session = OrtSessions.openProfiled(exportDir.resolve(Exporter.MODEL_FILE), threads, prefix)) {
            for (int i = 0; i < WARMUP + steps; i++) {
                Validator.runOrt(session, architecture, in);
            }
            file = Path.of(session.endProfiling());
        } catch (OrtException e) {
            throw new StepwiseException(exportDir + ": profiling failed: " + e.getMessage(), e);
        }
        try {
            return summarise(Files.readString(file, StandardCharsets.UTF_8), past, WARMUP);
        } catch (IOException e) {
            throw new StepwiseException(file + ": cannot read ONNX Runtime's profile: " + e.getMessage(), e);
        } finally {
            file.toFile().delete();
        }
    }

    /**
     * Kernel events ({@code cat} Node, name {@code *_kernel_time}) of a profile JSON after the first {@code skipRuns}
     * runs ({@code model_run} events), summed by op, per counted run.
     */
    static OpProfile summarise(String json, int past, int skipRuns) {
        List<JsonObject> events = new java.util.ArrayList<>();
        for (JsonElement e : JsonParser.parseString(json).getAsJsonArray()) {
            events.add(e.getAsJsonObject());
        }
        List<Double> runStarts = events.stream().filter(e -> "model_run".equals(e.get("name").getAsString()))
                .map(e -> e.get("ts").getAsDouble()).sorted().toList();
        if (runStarts.size() <= skipRuns) {
            throw new StepwiseException("ONNX Runtime's profile has " + runStarts.size() + " runs; expected more than "
                    + skipRuns);
        }
        double from = runStarts.get(skipRuns);
        int runs = runStarts.size() - skipRuns;
        Map<String, Double> micros = new TreeMap<>();
        for (JsonObject event : events) {
            if (event.get("ts").getAsDouble() < from || !"Node".equals(event.get("cat").getAsString())
                    || !event.get("name").getAsString().endsWith("_kernel_time")) {
                continue;
            }
            String op = event.getAsJsonObject("args").get("op_name").getAsString();
            micros.merge(op, event.get("dur").getAsDouble(), Double::sum);
        }
        Map<String, Double> byOp = new LinkedHashMap<>();
        micros.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
                .forEach(x -> byOp.put(x.getKey(), x.getValue() / runs / 1000));
        return new OpProfile(past, byOp, byOp.values().stream().mapToDouble(Double::doubleValue).sum());
    }

    /** {@code op ms (share)} for the largest {@code top} op types, the rest summed. */
    public String table(String label, int top) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "  profile %-6s decode step at past %d: %.2f ms"
                + " of kernels:", label, past, totalMs));
        List<Map.Entry<String, Double>> entries = List.copyOf(byOp.entrySet());
        double rest = 0;
        for (int i = 0; i < entries.size(); i++) {
            if (i < top) {
                s.append(String.format(Locale.ROOT, " %s %.3f (%.0f%%);", entries.get(i).getKey(),
                        entries.get(i).getValue(), 100 * entries.get(i).getValue() / totalMs));
            } else {
                rest += entries.get(i).getValue();
            }
        }
        if (rest > 0) {
            s.append(String.format(Locale.ROOT, " other %.3f (%.0f%%)", rest, 100 * rest / totalMs));
        }
        return s.append(System.lineSeparator()).toString();
    }
}
