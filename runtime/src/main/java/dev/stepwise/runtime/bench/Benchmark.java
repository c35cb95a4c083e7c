package dev.stepwise.runtime.bench;

import ai.djl.engine.Engine;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ops.torch.TorchEngine;
import dev.stepwise.runtime.ort.OrtSessions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One benchmark run over a checkpoint, everything measured in the same process so the ratios compare like with like:
 * export (with validation) into a temporary folder, greedy decoding on ONNX Runtime, the same decoding on the
 * PyTorch-engine reference, and the bandwidth floor. The engines run one after the other, never interleaved, so
 * neither one's idle thread pool spins while the other is timed.
 */
public final class Benchmark {
    /** Runs of the floor graph: it is cheap, so more samples steady its median. */
    private static final int FLOOR_WARMUP = 3;
    private static final int FLOOR_RUNS = 15;

    private Benchmark() {
    }

    /** Progress lines go to {@code log}; the export's own progress to {@code exportProgress}. */
    public static BenchReport run(Path checkpointDir, BenchOptions options, ProgressListener exportProgress,
                                  PrintStream log) {
        double loadBefore = MachineFacts.loadAverage();
        Path configFile = checkpointDir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        String modelType = json.has("model_type") ? json.get("model_type").getAsString() : "";
        Architecture architecture = Architectures.forModelType(modelType, configFile.toString());
        ModelConfig config = ModelConfig.of(configFile, json, architecture.spec().configKeys());
        checkFits(options, config);
        long[][] prompts = PromptIds.random(options.batchSize(), options.promptLength(), config.vocabSize(), options.seed());

        Path work = tempFolder();
        try {
            log.printf("[1/4] export with validation: %s -> %s%n", checkpointDir, work);
            long started = System.nanoTime();
            ExportResult export = Exporter.export(checkpointDir, work.resolve("onnx"),
                    ExportOptions.defaults().withProgress(exportProgress));
            double exportSeconds = (System.nanoTime() - started) / 1e9;

            log.printf("[2/4] ONNX Runtime: %d warm-up + %d measured greedy runs%n", options.warmup(), options.runs());
            EngineResult ort;
            try (GreedyDecoder decoder = new OrtDecoder(OrtSessions.open(export.modelFile(), options.threads()),
                    architecture.spec(), config)) {
                ort = measure(decoder, prompts, options, log);
            }

            log.printf("[3/4] PyTorch engine (eager reference): %d warm-up + %d measured greedy runs%n",
                    options.warmup(), options.runs());
            EngineResult torch;
            TorchEngine.setThreads(options.threads());
            try (Checkpoint weights = Checkpoint.open(checkpointDir);
                 GreedyDecoder decoder = new TorchDecoder(architecture, config, weights)) {
                torch = measure(decoder, prompts, options, log);
            }

            log.printf("[4/4] bandwidth floor: ONNX Runtime reads %.1f MB once, %d runs%n", export.weightBytes() / 1e6,
                    FLOOR_RUNS);
            BandwidthFloor.Measurement floor = BandwidthFloor.measure(export.weightBytes(), options.threads(),
                    FLOOR_WARMUP, FLOOR_RUNS);

            BenchReport.Versions versions = new BenchReport.Versions(OrtSessions.environment().getVersion(),
                    TorchEngine.get().getVersion(), Engine.getDjlVersion());
            return new BenchReport(modelType, export.weightBytes(), options, exportSeconds, ort, torch, floor,
                    MachineFacts.current(), versions, loadBefore, MachineFacts.loadAverage());
        } finally {
            OutputFolder.deleteRecursively(work);
        }
    }

    private static EngineResult measure(GreedyDecoder decoder, long[][] prompts, BenchOptions options, PrintStream log) {
        for (int i = 0; i < options.warmup(); i++) {
            decoder.decode(prompts, options.newTokens());
        }
        List<DecodeRun> runs = new ArrayList<>();
        for (int i = 0; i < options.runs(); i++) {
            DecodeRun run = decoder.decode(prompts, options.newTokens());
            runs.add(run);
            log.printf(Locale.ROOT, "      %s run %d: prefill %.2f ms, decode median %.2f ms/token%n", decoder.name(),
                    i + 1, run.prefillNanos() / 1e6, Median.millis(run.decodeNanos()));
        }
        return EngineResult.of(decoder.name(), runs);
    }

    private static void checkFits(BenchOptions options, ModelConfig config) {
        long total = (long) options.promptLength() + options.newTokens();
        if (total > config.maxPositions()) {
            throw new StepwiseException("prompt length " + options.promptLength() + " + " + options.newTokens()
                    + " new tokens exceed the model's " + config.maxPositions() + " positions");
        }
    }

    private static Path tempFolder() {
        try {
            return Files.createTempDirectory("stepwise-bench-");
        } catch (IOException e) {
            throw new StepwiseException("cannot create a temporary folder for the export: " + e.getMessage(), e);
        }
    }
}
