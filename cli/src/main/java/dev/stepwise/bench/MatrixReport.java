package dev.stepwise.bench;

import static dev.stepwise.bench.BenchReport.round;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.stepwise.bench.MatrixCell.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Everything a {@code bench --matrix} run measured: one {@link MatrixCell} per grid point (skipped ones with their
 * reason), the variants that could not be exported at all ({@code skippedVariants}: variant to reason), the cells
 * whose PyTorch figure was not measured ({@code torchSkipped}: {@code "batch 1 decode at past 2048"} to reason), the floor
 * bandwidth the cells' floors are read at, and issue 12's targets evaluated on the cells.
 */
public record MatrixReport(String modelType, long weightBytes, MatrixGrid grid, BenchOptions options,
                           FloorResult floor, List<MatrixCell> cells, Map<String, String> skippedVariants,
                           Map<String, String> torchSkipped, MachineFacts machine, BenchReport.Versions versions, double loadBefore, double loadAfter) {
    static final int TARGET_PAST = 32;
    static final int LONG_PAST = 2048;
    static final int LONG_PREFILL = 1024;
    /** The end of a target's reason when the grid has no cell for it (such targets are left out of the table). */
    private static final String NOT_IN_GRID = " is not in the grid";

    /**
     * Issue 12's targets for every measured variant and grid precision: batch-1 decode at past 32 within 1.1x its
     * floor (fp32 and int4), decode at past 2048 within 1.25x of past 32, and prefill of 1024 tokens at least 2x
     * faster than the PyTorch engine (every batch).
     */
    public List<MatrixTarget> targets() {
        List<MatrixTarget> t = new ArrayList<>();
        for (String v : grid.variants()) {
            if (skippedVariants.containsKey(v)) {
                continue;
            }
            for (String p : grid.precisions()) {
                if (p.equals("fp32") || p.equals("int4")) {
                    Optional<MatrixCell> c = cell(v, p, 1, Kind.DECODE, TARGET_PAST);
                    t.add(new MatrixTarget("decode at past 32 <= 1.10x floor", v, p, 1,
                            c.map(MatrixCell::vsFloor).orElse(Double.NaN), 1.10, true, missing(c, "decode@32", 1)));
                }
                for (int b : grid.batches()) {
                    Optional<MatrixCell> shortPast = cell(v, p, b, Kind.DECODE, TARGET_PAST);
                    Optional<MatrixCell> longPast = cell(v, p, b, Kind.DECODE, LONG_PAST);
                    String gap = missing(shortPast, "decode@32", b);
                    gap = gap != null ? gap : missing(longPast, "decode@2048", b);
                    double growth = gap == null ? longPast.get().ms() / shortPast.get().ms() : Double.NaN;
                    t.add(new MatrixTarget("decode at past 2048 <= 1.25x past 32", v, p, b, growth, 1.25, true, gap));
                    Optional<MatrixCell> prefill = cell(v, p, b, Kind.PREFILL, LONG_PREFILL);
                    String noTorch = torchSkipped.get(MatrixBenchmark.key(b, Kind.PREFILL, LONG_PREFILL));
                    String prefillGap = missing(prefill, "prefill 1024", b);
                    t.add(new MatrixTarget("prefill 1024 >= 2.00x faster than PyTorch", v, p, b,
                            prefill.map(MatrixCell::torchOverOrt).orElse(Double.NaN), 2.0, false,
                            prefillGap != null || noTorch == null ? prefillGap : "not measured (" + noTorch + ")"));
                }
            }
        }
        return t;
    }

    private Optional<MatrixCell> cell(String variant, String precision, int batch, Kind kind, int length) {
        return cells.stream().filter(c -> c.variant().equals(variant) && c.precision().equals(precision)
                && c.batch() == batch && c.kind() == kind && c.length() == length).findFirst();
    }

    /** Null when the cell was measured; otherwise why the target cannot be evaluated. */
    private static String missing(Optional<MatrixCell> c, String label, int batch) {
        if (c.isEmpty()) {
            return "not measured (" + label + " at batch " + batch + NOT_IN_GRID + ")";
        }
        return c.get().measured() ? null : "not measured (" + label + ": " + c.get().skipped() + ")";
    }

    /** The table {@code bench --matrix} prints. */
    public String toTable() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "stepwise bench --matrix: %s, %.1f MB of fp32 weights, %d threads, %d warm-up"
                        + " + %d measured rounds per cell, decode = median of %d steps per round; each cell's floor"
                        + " read right after it (alone, before any session: %.1f GB/s, %s)%n", modelType,
                weightBytes / 1e6, options.threads(), options.warmup(), options.runs(), grid.decodeSteps(),
                floor.gigabytesPerSecond(), floor.method()));
        s.append(String.format(Locale.ROOT, "  %-7s %-5s %5s %-13s %11s %10s %6s %9s %11s %11s%n", "variant", "prec",
                "batch", "cell", "ORT ms", "floor ms", "GB/s", "ORT/floor", "PyTorch ms", "PyTorch/ORT"));
        for (MatrixCell c : cells) {
            String head = String.format(Locale.ROOT, "  %-7s %-5s %5d %-13s", c.variant(), c.precision(), c.batch(),
                    c.label());
            if (c.measured()) {
                s.append(head).append(String.format(Locale.ROOT, " %11.2f %10.2f %6.1f %8.2fx", c.ms(), c.floorMs(),
                        c.floorGbPerS(), c.vsFloor()));
                s.append(Double.isNaN(c.torchMs()) ? String.format("%12s %11s%n", "-", "-")
                        : String.format(Locale.ROOT, " %11.2f %10.2fx%n", c.torchMs(), c.torchOverOrt()));
            } else {
                s.append(head).append(" skipped: ").append(c.skipped()).append(System.lineSeparator());
            }
        }
        skippedVariants.forEach((v, why) -> s.append(String.format("  %-7s skipped: %s%n", v, why)));
        torchSkipped.forEach((cell, why) -> s.append(String.format("  %s: %s%n", cell, why)));
        s.append("targets (issue 12):").append(System.lineSeparator());
        int outsideGrid = 0;
        for (MatrixTarget t : targets()) {
            if (t.missing() != null && t.missing().endsWith(NOT_IN_GRID + ")")) {
                outsideGrid++;
            } else {
                s.append(t.line()).append(System.lineSeparator());
            }
        }
        if (outsideGrid > 0) {
            s.append(String.format("  (%d more need cells this grid does not have; --json lists them)%n", outsideGrid));
        }
        s.append(machine.line(versions, loadBefore, loadAfter));
        return s.toString();
    }

    /** The one JSON object {@code bench --matrix --json} prints. */
    public String toJson() {
        JsonObject j = new JsonObject();
        j.addProperty("model_type", modelType);
        j.addProperty("weight_bytes", weightBytes);
        j.addProperty("threads", options.threads());
        j.addProperty("warmup", options.warmup());
        j.addProperty("runs", options.runs());
        j.addProperty("decode_steps", grid.decodeSteps());
        j.addProperty("floor_alone_gb_per_s", round(floor.gigabytesPerSecond()));
        j.addProperty("floor_alone_method", floor.method());
        JsonObject g = new JsonObject();
        g.add("variants", array(grid.variants()));
        g.add("precisions", array(grid.precisions()));
        g.add("batches", array(grid.batches()));
        g.add("pasts", array(grid.pasts()));
        g.add("prefills", array(grid.prefills()));
        j.add("grid", g);
        JsonObject sv = new JsonObject();
        skippedVariants.forEach(sv::addProperty);
        j.add("skipped_variants", sv);
        JsonArray cs = new JsonArray();
        for (MatrixCell c : cells) {
            JsonObject o = new JsonObject();
            o.addProperty("variant", c.variant());
            o.addProperty("precision", c.precision());
            o.addProperty("batch", c.batch());
            o.addProperty("kind", c.kind().name().toLowerCase(Locale.ROOT));
            o.addProperty("length", c.length());
            if (c.measured()) {
                o.addProperty("ort_ms", round(c.ms()));
                o.addProperty("floor_ms", round(c.floorMs()));
                o.addProperty("floor_gb_per_s", round(c.floorGbPerS()));
                o.addProperty("vs_floor", round(c.vsFloor()));
                String noTorch = torchSkipped.get(MatrixBenchmark.key(c.batch(), c.kind(), c.length()));
                if (noTorch == null) {
                    o.addProperty("torch_ms", round(c.torchMs()));
                    o.addProperty("torch_over_ort", round(c.torchOverOrt()));
                } else {
                    o.addProperty("torch_skipped", noTorch);
                }
                o.addProperty("weight_bytes", c.weightBytes());
                o.addProperty("kv_bytes", c.kvBytes());
            } else {
                o.addProperty("skipped", c.skipped());
            }
            cs.add(o);
        }
        j.add("cells", cs);
        JsonArray ts = new JsonArray();
        for (MatrixTarget t : targets()) {
            JsonObject o = new JsonObject();
            o.addProperty("target", t.target());
            o.addProperty("variant", t.variant());
            o.addProperty("precision", t.precision());
            o.addProperty("batch", t.batch());
            o.addProperty("status", t.status().label());
            o.addProperty("bound", t.bound());
            if (t.missing() == null) {
                o.addProperty("value", round(t.value()));
            } else {
                o.addProperty("missing", t.missing());
            }
            ts.add(o);
        }
        j.add("targets", ts);
        j.addProperty("cores", machine.cores());
        j.addProperty("cpu_model", machine.cpuModel());
        j.addProperty("onnxruntime_version", versions.onnxruntime());
        j.addProperty("libtorch_version", versions.libtorch());
        return BenchReport.json(j, loadBefore, loadAfter);
    }

    private static JsonArray array(List<?> values) {
        JsonArray a = new JsonArray();
        for (Object v : values) {
            a.add(v instanceof Number n ? new JsonPrimitive(n) : new JsonPrimitive(v.toString()));
        }
        return a;
    }
}
