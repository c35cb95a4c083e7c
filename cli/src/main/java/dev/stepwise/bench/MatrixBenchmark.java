package dev.stepwise.bench;

import ai.djl.engine.Engine;
import dev.stepwise.bench.MatrixCell.Kind;
import dev.stepwise.reference.TorchEngine;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.ort.OrtSessions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench --matrix}: one run over a {@link MatrixGrid}. Each variant is exported once (validated) and quantized
 * once per precision (no gate), and every cell reuses those folders; each cell's floor is its own bytes (the
 * variant's decode-step weights plus the KV cache at the cell's length) read at the bandwidth measured right after
 * the cell, its session still loaded (the bandwidth read alone before any session is reported beside it). The PyTorch engine's fp32 figure is measured once per batch, kind and length, the reference for every variant
 * and precision in that cell. Engines run one after another (one ONNX Runtime session or the PyTorch engine in memory
 * at a time), so load from other processes can land on one engine's cells more than another's; the load average is
 * reported.
 */
public final class MatrixBenchmark {
    private MatrixBenchmark() {
    }

    /** {@code options} gives threads, warm-up and measured rounds per cell, and the prompts' seed. */
    public static MatrixReport run(Path checkpointDir, MatrixGrid grid, BenchOptions options,
                                   ProgressListener exportProgress, PrintStream log) {
        double loadBefore = MachineFacts.loadAverage();
        ModelFolder folder = ModelFolder.read(checkpointDir);
        Architecture architecture = folder.architecture();
        ModelConfig config = folder.config();
        Path work = Benchmark.tempFolder();
        try {
            Map<String, ExportResult> exports = new LinkedHashMap<>();
            Map<String, String> skippedVariants = new LinkedHashMap<>();
            for (String variant : grid.variants()) {
                log.printf("[export] %s (validated)%n", variant);
                try {
                    exports.put(variant, Exporter.export(checkpointDir, work.resolve("onnx-" + variant),
                            exportOptions(variant, grid, config).withProgress(exportProgress)));
                } catch (StepwiseException e) {
                    if (variant.equals("plain")) {
                        throw e;
                    }
                    // an architecture without fused ops, or (ort-kv) without GroupQueryAttention
                    skippedVariants.put(variant, e.getMessage());
                    log.printf("[export] %s skipped: %s%n", variant, e.getMessage());
                }
            }
            Map<String, Path> folders = new LinkedHashMap<>();
            exports.forEach((variant, export) -> {
                for (String precision : grid.precisions()) {
                    folders.put(variant + " " + precision, precision.equals("fp32") ? export.outputDir()
                            : quantized(export, variant, precision, work, options, log));
                }
            });
            long fp32Bytes;
            try (Checkpoint weights = Checkpoint.open(checkpointDir)) {
                fp32Bytes = Exporter.float32Bytes(weights);
            }
            log.printf("[floor] %.1f MB buffer, alone%n", fp32Bytes / 1e6);
            FloorResult floor = Benchmark.floorAlone(fp32Bytes, options);

            TorchEngine.setThreads(options.threads());
            Map<String, Double> torch = new HashMap<>();
            Map<String, String> torchSkipped = new LinkedHashMap<>();
            try (Checkpoint weights = Checkpoint.open(checkpointDir);
                 GreedyDecoder engine = Benchmark.torchDecoder(architecture, config, weights)) {
                forEachCell(grid, config, (batch, kind, length, why) -> {
                    if (why != null) {
                        return;
                    }
                    String tooLarge = TorchMemory.tooLarge(config, fp32Bytes, batch, length);
                    if (tooLarge != null) {
                        torchSkipped.put(key(batch, kind, length), tooLarge);
                        log.printf("[pytorch] batch %d %s: %s%n", batch, label(kind, length), tooLarge);
                        return;
                    }
                    log.printf("[pytorch] batch %d %s%n", batch, label(kind, length));
                    torch.put(key(batch, kind, length), measure(engine, grid, config, options, batch, kind, length, log));
                });
            }

            List<MatrixCell> cells = new ArrayList<>();
            for (String variant : grid.variants()) {
                for (String precision : grid.precisions()) {
                    Path dir = folders.get(variant + " " + precision);
                    if (dir == null) {
                        continue; // the variant was skipped
                    }
                    long stepBytes = DecodeStepBytes.of(dir.resolve(Exporter.MODEL_FILE));
                    // the floor is read again right after each cell, the session still loaded: the bandwidth a step
                    // gets depends on what else is resident, and it drifts over a long run
                    try (GreedyDecoder engine = Benchmark.ortDecoder(dir, options);
                         BandwidthFloor floorBuffer = BandwidthFloor.open(fp32Bytes, options.threads())) {
                        forEachCell(grid, config, (batch, kind, length, why) -> {
                            if (why != null) {
                                cells.add(MatrixCell.skipped(variant, precision, batch, kind, length, why));
                                return;
                            }
                            log.printf("[%s %s] batch %d %s%n", variant, precision, batch, label(kind, length));
                            double ms = measure(engine, grid, config, options, batch, kind, length, log);
                            double gbPerS = Benchmark.floorReads(floorBuffer, options).gigabytesPerSecond();
                            long kv = DecodeStepBytes.kvCache(config, batch, length);
                            cells.add(new MatrixCell(variant, precision, batch, kind, length, ms,
                                    (stepBytes + kv) / (gbPerS * 1e6), gbPerS,
                                    torch.getOrDefault(key(batch, kind, length), Double.NaN), stepBytes, kv, null));
                        });
                    }
                    Benchmark.settle();
                }
            }
            BenchReport.Versions versions = new BenchReport.Versions(OrtSessions.environment().getVersion(),
                    TorchEngine.get().getVersion(), Engine.getDjlVersion());
            return new MatrixReport(architecture.spec().modelType(), fp32Bytes, grid, options, floor, cells,
                    skippedVariants, torchSkipped, MachineFacts.current(), versions, loadBefore,
                    MachineFacts.loadAverage());
        } finally {
            OutputFolder.deleteRecursively(work);
        }
    }

    /** A variant's export: standard ops, ONNX Runtime's fused ops, or fused with an in-place cache for the grid. */
    private static ExportOptions exportOptions(String variant, MatrixGrid grid, ModelConfig config) {
        ExportOptions plain = ExportOptions.defaults();
        return switch (variant) {
            case "plain" -> plain;
            case "ort" -> plain.withOptimize(Optimize.ORT);
            case "ort-kv" -> plain.withOptimize(Optimize.ORT).withMaxLength(grid.longestCell(config.maxPositions()));
            default -> throw new IllegalArgumentException(variant); // MatrixGrid admits only these
        };
    }

    private interface CellVisitor {
        /** {@code impossible}: why the cell cannot run on this model, or null. */
        void visit(int batch, Kind kind, int length, String impossible);
    }

    /** Every (batch, kind, length) of the grid, in the table's order. */
    private static void forEachCell(MatrixGrid grid, ModelConfig config, CellVisitor visitor) {
        for (int batch : grid.batches()) {
            for (Kind kind : Kind.values()) {
                for (int length : kind == Kind.DECODE ? grid.pasts() : grid.prefills()) {
                    visitor.visit(batch, kind, length, impossible(grid, config, kind, length));
                }
            }
        }
    }

    private static Path quantized(ExportResult export, String variant, String precision, Path work,
                                  BenchOptions options, PrintStream log) {
        log.printf("[quantize] %s %s (no gate)%n", variant, precision);
        return Benchmark.quantizeUngated(export.outputDir(), work.resolve("onnx-" + variant + "-" + precision),
                MatrixGrid.mode(precision), options.threads()).outputDir();
    }

    /** Tokens a cell generates: a decode cell's timed steps after the prefill's token; a prefill cell one step more. */
    private static int newTokens(MatrixGrid grid, Kind kind) {
        return kind == Kind.DECODE ? grid.decodeSteps() + 1 : 2;
    }

    /** Why a cell cannot run on this model, or null. */
    static String impossible(MatrixGrid grid, ModelConfig config, Kind kind, int length) {
        int tokens = newTokens(grid, kind);
        if ((long) length + tokens > config.maxPositions()) {
            return (kind == Kind.DECODE ? "past " : "prompt ") + length + " + " + tokens + " new tokens exceed the"
                    + " model's " + config.maxPositions() + " positions";
        }
        return null;
    }

    /** A decode cell's median ms per step after a {@code length}-token prefill, or a prefill cell's median prefill. */
    private static double measure(GreedyDecoder engine, MatrixGrid grid, ModelConfig config, BenchOptions options,
                                  int batch, Kind kind, int length, PrintStream log) {
        BenchOptions cell = new BenchOptions(batch, length, newTokens(grid, kind), options.threads(), options.warmup(),
                options.runs(), options.seed());
        long[][] prompts = PromptIds.random(batch, length, config.vocabSize(), options.seed());
        EngineResult r = Benchmark.decodeRounds(engine, prompts, cell, log);
        return kind == Kind.DECODE ? r.decodeMillisPerToken() : r.prefillMillis();
    }

    /** The key of a (batch, kind, length) in the PyTorch figures and {@link MatrixReport#torchSkipped()}. */
    static String key(int batch, Kind kind, int length) {
        return "batch " + batch + " " + label(kind, length);
    }

    private static String label(Kind kind, int length) {
        return kind == Kind.DECODE ? "decode at past " + length : "prefill " + length;
    }
}
