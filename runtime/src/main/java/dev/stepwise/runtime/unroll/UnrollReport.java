package dev.stepwise.runtime.unroll;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The table NPU teams look at: node counts by op type for the dynamic decoder (traced with symbolic dims) and for
 * every step graph before and after the passes, file sizes, and the chained check's differences.
 */
public final class UnrollReport {
    record StepRow(GenStep step, Map<String, Integer> traced, Map<String, Integer> optimized, long fileBytes) {
    }

    record EncoderRow(String file, Map<String, Integer> dynamic, Map<String, Integer> traced,
                      Map<String, Integer> optimized, long fileBytes) {
    }

    private final String modelType;
    private final UnrollOptions options;
    private final Map<String, Integer> dynamic;
    private final List<StepRow> rows = new ArrayList<>();
    /** The static encoder of a seq2seq unroll, or null. */
    private EncoderRow encoder;
    private List<StepCheck> checks = List.of();
    private long weightsBytes;
    private double seconds;

    UnrollReport(String modelType, UnrollOptions options, Map<String, Integer> dynamic) {
        this.modelType = modelType;
        this.options = options;
        this.dynamic = dynamic;
    }

    void addStep(GenStep step, Map<String, Integer> traced, Map<String, Integer> optimized, long fileBytes) {
        rows.add(new StepRow(step, traced, optimized, fileBytes));
    }

    void setEncoder(String file, Map<String, Integer> dynamic, Map<String, Integer> traced,
                    Map<String, Integer> optimized, long fileBytes) {
        this.encoder = new EncoderRow(file, dynamic, traced, optimized, fileBytes);
    }

    void setChecks(List<StepCheck> checks) {
        this.checks = List.copyOf(checks);
    }

    void setWeightsBytes(long bytes) {
        this.weightsBytes = bytes;
    }

    void setSeconds(double seconds) {
        this.seconds = seconds;
    }

    /**
     * The size of the shared weights file.
     *
     * @return bytes of {@code decoder_model-opt.onnx_data}
     */
    public long weightsBytes() {
        return weightsBytes;
    }

    /**
     * How long the unroll took.
     *
     * @return wall-clock seconds, the chained check included
     */
    public double seconds() {
        return seconds;
    }

    /**
     * The chained check's figures.
     *
     * @return one check per step, in order; empty when validation was off
     */
    public List<StepCheck> checks() {
        return checks;
    }

    /**
     * Node count of one op type in a step graph after the passes.
     *
     * @param step the step, from 0
     * @param op   an ONNX op type, such as {@code MatMul}
     * @return how many nodes of that type the step graph has (0 when none)
     */
    public int optimizedCount(int step, String op) {
        return rows.get(step).optimized().getOrDefault(op, 0);
    }

    /**
     * Node count of one op type in a seq2seq unroll's static encoder after the passes.
     *
     * @param op an ONNX op type, such as {@code Shape}
     * @return how many nodes of that type the encoder graph has (0 when none, or for a decoder-only unroll)
     */
    public int encoderOptimizedCount(String op) {
        return encoder == null ? 0 : encoder.optimized().getOrDefault(op, 0);
    }

    /**
     * Node count of one op type in the dynamic decoder (traced with symbolic dims), for comparison with the steps.
     *
     * @param op an ONNX op type, such as {@code Shape}
     * @return how many nodes of that type the dynamic decoder has (0 when none)
     */
    public int dynamicCount(String op) {
        return dynamic.getOrDefault(op, 0);
    }

    static int total(Map<String, Integer> counts) {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Prints the report as a table: one row per op type, columns dynamic | step 0 | step 1 | … (after the passes),
     * then totals, file sizes and the chained check.
     *
     * @param out where to print
     */
    public void print(PrintStream out) {
        TreeSet<String> ops = new TreeSet<>(dynamic.keySet());
        rows.forEach(r -> ops.addAll(r.optimized().keySet()));
        StringBuilder header = new StringBuilder(String.format("%-28s %8s", "op type", "dynamic"));
        rows.forEach(r -> header.append(String.format(" %8s", "step " + r.step().index())));
        out.println(header);
        for (String op : ops) {
            StringBuilder line = new StringBuilder(String.format("%-28s %8d", op, dynamic.getOrDefault(op, 0)));
            rows.forEach(r -> line.append(String.format(" %8d", r.optimized().getOrDefault(op, 0))));
            out.println(line);
        }
        StringBuilder totals = new StringBuilder(String.format("%-28s %8d", "total nodes", total(dynamic)));
        rows.forEach(r -> totals.append(String.format(" %8d", total(r.optimized()))));
        out.println(totals);
        StringBuilder traced = new StringBuilder(String.format("%-28s %8s", "  (before passes)", ""));
        rows.forEach(r -> traced.append(String.format(" %8d", total(r.traced()))));
        out.println(traced);
        StringBuilder sizes = new StringBuilder(String.format("%-28s %8s", "graph file KB", ""));
        rows.forEach(r -> sizes.append(String.format(" %8.1f", r.fileBytes() / 1024.0)));
        out.println(sizes);
        if (encoder != null) {
            out.printf("%s: %d nodes (dynamic encoder %d, before passes %d), Shape %d, %.1f KB%n", encoder.file(),
                    total(encoder.optimized()), total(encoder.dynamic()), total(encoder.traced()),
                    encoder.optimized().getOrDefault("Shape", 0), encoder.fileBytes() / 1024.0);
        }
        out.printf("shared weights file %s: %.1f MB (written once for %d steps)%n", Unroller.WEIGHTS_FILE, weightsBytes / 1e6,
                rows.size());
        for (StepCheck c : checks) {
            out.println("checked " + c.describe());
        }
    }

    /**
     * Writes the report as JSON (what {@code unroll-report.json} holds).
     *
     * @param file the file to write, replaced when it exists
     * @throws StepwiseException when the file cannot be written
     */
    public void write(Path file) {
        JsonObject o = new JsonObject();
        o.addProperty("model_type", modelType);
        o.addProperty("batch_size", options.batch());
        o.addProperty(encoder != null ? "encoder_sequence_length" : "sequence_length", options.sequence());
        o.addProperty("max_new_tokens", options.maxNewTokens());
        o.addProperty("opset", options.opset());
        o.addProperty("last_token_logits", options.lastTokenLogits());
        o.addProperty("weights_file", Unroller.WEIGHTS_FILE);
        o.addProperty("weights_bytes", weightsBytes);
        o.addProperty("seconds", seconds);
        o.add("dynamic_decoder_op_counts", counts(dynamic));
        o.addProperty("dynamic_decoder_nodes", total(dynamic));
        if (encoder != null) {
            JsonObject e = new JsonObject();
            e.addProperty("file", encoder.file());
            e.addProperty("file_bytes", encoder.fileBytes());
            e.addProperty("nodes_dynamic", total(encoder.dynamic()));
            e.addProperty("nodes_traced", total(encoder.traced()));
            e.addProperty("nodes", total(encoder.optimized()));
            e.add("op_counts", counts(encoder.optimized()));
            checks.stream().filter(c -> c.step() == 0).findFirst()
                    .ifPresent(c -> e.addProperty("last_hidden_state_max_abs_diff", c.encoderMaxAbsDiff()));
            o.add("encoder", e);
        }
        JsonArray steps = new JsonArray();
        for (StepRow r : rows) {
            JsonObject s = new JsonObject();
            s.addProperty("gen_step", r.step().index());
            s.addProperty("file", r.step().fileName());
            s.addProperty("file_bytes", r.fileBytes());
            s.addProperty("nodes_traced", total(r.traced()));
            s.addProperty("nodes", total(r.optimized()));
            s.add("op_counts_traced", counts(r.traced()));
            s.add("op_counts", counts(r.optimized()));
            checks.stream().filter(c -> c.step() == r.step().index()).findFirst().ifPresent(c -> {
                s.addProperty("logits_max_abs_diff", c.logitsMaxAbsDiff());
                s.addProperty("presents_max_abs_diff", c.presentsMaxAbsDiff());
                s.addProperty("same_tokens", c.sameTokens());
            });
            steps.add(s);
        }
        o.add("steps", steps);
        try {
            Files.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StepwiseException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static JsonObject counts(Map<String, Integer> counts) {
        JsonObject o = new JsonObject();
        counts.forEach(o::addProperty);
        return o;
    }
}
