package dev.stepwise.bench;

import ai.djl.engine.Engine;
import dev.stepwise.reference.TorchDecoding;
import dev.stepwise.reference.TorchEngine;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.onnx.Optimize;
import java.util.LinkedHashMap;
import java.util.Map;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One benchmark run over a checkpoint, everything measured in the same process so the ratios compare like with like:
 * export (with validation) into a temporary folder, then rounds of one greedy decode on ONNX Runtime, the same decode
 * on the PyTorch-engine reference, and a few reads of the bandwidth floor. Interleaving the rounds means a burst of
 * load from other processes lands on all three figures instead of on whichever engine ran at the time. A pause
 * between engines (and between floor graphs) matters as much: the worker threads of the session that just ran keep
 * spinning for a while, and on a machine with few cores they take a core from the next one (measured on 2 cores:
 * back-to-back switching made ONNX Runtime matrix-vector products 1.7x slower).
 */
public final class Benchmark {
    /** Reads of the floor per round: one read is short, so several steady its median. */
    private static final int FLOOR_READS_PER_ROUND = 5;
    private static final long SETTLE_MILLIS = 200;

    private Benchmark() {
    }

    /** Progress lines go to {@code log}; the export's own progress to {@code exportProgress}. */
    public static BenchReport run(Path checkpointDir, BenchOptions options, ProgressListener exportProgress,
                                  PrintStream log) {
        return run(checkpointDir, options, List.of(), exportProgress, log);
    }

    /**
     * As above, then each of {@code quantized} ({@code bench --quantize}): the export quantized in that mode (the
     * quality gate off: bench measures speed; {@code stepwise quantize} gates), ONNX Runtime's decode on it, and its
     * own floor, in the same run.
     */
    public static BenchReport run(Path checkpointDir, BenchOptions options, List<QuantizeMode> quantized,
                                  ProgressListener exportProgress, PrintStream log) {
        return run(checkpointDir, options, quantized, false, false, exportProgress, log);
    }

    /**
     * As above; with {@code fused}, also exports with {@code --optimize ort} (validated) and times ONNX Runtime's
     * decode on it with the same prompts; with {@code profile}, ONNX Runtime's profiler summarises one decode step at
     * past = prompt length by op type, on the plain export and (with {@code fused}) on the fused one.
     */
    public static BenchReport run(Path checkpointDir, BenchOptions options, List<QuantizeMode> quantized,
                                  boolean fused, boolean profile, ProgressListener exportProgress, PrintStream log) {
        double loadBefore = MachineFacts.loadAverage();
        ModelFolder folder = ModelFolder.read(checkpointDir);
        Architecture architecture = folder.architecture();
        ModelConfig config = folder.config();
        String modelType = architecture.spec().modelType();
        checkFits(options, config);
        long float32Bytes;
        try (Checkpoint weights = Checkpoint.open(checkpointDir)) {
            float32Bytes = Exporter.float32Bytes(weights);
        }
        String tooLarge = TorchMemory.tooLarge(config, float32Bytes, options.batchSize(), options.promptLength());
        if (tooLarge != null) {
            throw new StepwiseException("bench times both engines, and the " + tooLarge
                    + "; use a shorter --prompt-length, or bench --matrix, which reports ONNX Runtime alone there");
        }
        long[][] prompts = PromptIds.random(options.batchSize(), options.promptLength(), config.vocabSize(), options.seed());

        Path work = tempFolder();
        try {
            log.printf("[1/3] export with validation: %s -> %s%n", checkpointDir, work);
            long started = System.nanoTime();
            ExportResult export = Exporter.export(checkpointDir, work.resolve("onnx"),
                    ExportOptions.defaults().withDtype(options.dtype()).withProgress(exportProgress));
            double exportSeconds = (System.nanoTime() - started) / 1e9;

            TorchEngine.setThreads(options.threads());
            Measured measured;
            if (fitsTogether(export.weightBytes(), float32Bytes)) {
                log.printf("[2/3] loading ONNX Runtime, the PyTorch engine (%d threads each) and a %.1f MB floor buffer%n",
                        options.threads(), export.weightBytes() / 1e6);
                try (GreedyDecoder ort = ortDecoder(export.modelFile().getParent(), options);
                     Checkpoint weights = Checkpoint.open(checkpointDir);
                     GreedyDecoder torch = torchDecoder(architecture, config, weights);
                     BandwidthFloor floor = BandwidthFloor.open(export.weightBytes(), options.threads())) {
                    log.printf("[3/3] %d warm-up + %d measured rounds: ONNX Runtime decode, PyTorch decode, %d floor"
                            + " reads per method%n", options.warmup(), options.runs(), FLOOR_READS_PER_ROUND);
                    measured = rounds(ort, torch, floor, prompts, options, log);
                }
            } else {
                measured = oneAfterAnother(checkpointDir, export, architecture, config, prompts, options, log);
            }

            List<QuantizedResult> quantizedResults = new ArrayList<>();
            for (QuantizeMode mode : quantized) {
                quantizedResults.add(measureQuantized(export, architecture, config, prompts, options, mode,
                        measured.floor(), work, log));
            }

            FusedResult fusedResult = null;
            Map<String, OpProfile> profiles = new LinkedHashMap<>();
            if (profile) {
                log.printf("[+] profile a decode step at past %d on the plain export%n", options.promptLength());
                profiles.put("plain", OpProfile.decodeStep(export.outputDir(), architecture, config,
                        options.promptLength(), PROFILED_STEPS, options.threads(), work));
            }
            if (fused) {
                log.printf("[+] export with --optimize ort (validated) and decode on it%n");
                long fusedStarted = System.nanoTime();
                ExportResult f = Exporter.export(checkpointDir, work.resolve("onnx-ort"),
                        ExportOptions.defaults().withOptimize(Optimize.ORT).withProgress(exportProgress));
                double fusedSeconds = (System.nanoTime() - fusedStarted) / 1e9;
                try (GreedyDecoder decoder = ortDecoder(f.outputDir(), options)) {
                    fusedResult = new FusedResult(decodeRounds(decoder, prompts, options, log), fusedSeconds);
                }
                if (profile) {
                    log.printf("[+] profile a decode step at past %d on the fused export%n", options.promptLength());
                    profiles.put("ort", OpProfile.decodeStep(f.outputDir(), architecture, config,
                            options.promptLength(), PROFILED_STEPS, options.threads(), work));
                }
            }

            BenchReport.Versions versions = new BenchReport.Versions(OrtSessions.environment().getVersion(),
                    TorchEngine.get().getVersion(), Engine.getDjlVersion());
            return new BenchReport(modelType, export.weightBytes(), options, exportSeconds, measured.ort(),
                    measured.torch(), measured.floor(), quantizedResults, fusedResult, profiles, MachineFacts.current(),
                    versions, loadBefore, MachineFacts.loadAverage());
        } finally {
            OutputFolder.deleteRecursively(work);
        }
    }

    /** Profiled decode steps per export (after two warm-up steps). */
    static final int PROFILED_STEPS = 20;

    private record Measured(EngineResult ort, EngineResult torch, FloorResult floor) {
    }

    /** The export quantized in {@code mode}, then timed like the float export, with the floor of its own bytes. */
    private static QuantizedResult measureQuantized(ExportResult export, Architecture architecture, ModelConfig config,
                                                    long[][] prompts, BenchOptions options, QuantizeMode mode,
                                                    FloorResult floor, Path work, PrintStream log) {
        log.printf("[+] quantize %s (no gate) and decode on it%n", mode.cliName());
        long started = System.nanoTime();
        QuantizeResult q = quantizeUngated(export.modelFile().getParent(), work.resolve("onnx-" + mode.cliName()),
                mode, options.threads());
        double seconds = (System.nanoTime() - started) / 1e9;
        EngineResult ort;
        try (GreedyDecoder decoder = ortDecoder(q.outputDir(), options)) {
            ort = decodeRounds(decoder, prompts, options, log);
        }
        long stepBytes = DecodeStepBytes.of(q.outputDir().resolve(Exporter.MODEL_FILE));
        double floorMillis = stepBytes / (floor.gigabytesPerSecond() * 1e9) * 1e3;
        return new QuantizedResult(mode, q.bytesAfter(), stepBytes, ort, floorMillis, seconds);
    }

    /**
     * Whether ONNX Runtime's session (its packed copy of the weights), the PyTorch engine's float32 weights and the
     * floor's buffer plus ONNX Runtime's packed copy of it fit in half the machine's memory at once. A model too large
     * for that is measured one engine after another, each released before the next loads.
     */
    static boolean fitsTogether(long exportedBytes, long float32Bytes) {
        long needed = exportedBytes + float32Bytes + 2 * exportedBytes;
        return needed < MachineFacts.physicalMemoryBytes() / 2;
    }

    /** ONNX Runtime on the export, driven by the Java generator that {@code generate} uses. */
    static GreedyDecoder ortDecoder(Path modelDir, BenchOptions options) {
        ExportedModel model = ExportedModel.open(modelDir, options.threads());
        return new GeneratorDecoder("onnxruntime", model, model);
    }

    /**
     * The PyTorch-engine reference on the checkpoint, driven by the same Java generator ({@code weights} stays open
     * while it runs).
     */
    static GreedyDecoder torchDecoder(Architecture architecture, ModelConfig config, Checkpoint weights) {
        TorchDecoding torch = new TorchDecoding(architecture, config, weights);
        return new GeneratorDecoder("pytorch", torch, torch);
    }

    /** Each engine's rounds, then the floor's, with only one of them in memory at a time. */
    private static Measured oneAfterAnother(Path checkpointDir, ExportResult export, Architecture architecture,
                                            ModelConfig config, long[][] prompts, BenchOptions options,
                                            PrintStream log) {
        log.printf("[2/3] the model is too large for both engines and the floor at once: measuring them one after"
                + " another (%d warm-up + %d measured rounds each)%n", options.warmup(), options.runs());
        EngineResult ortResult;
        try (GreedyDecoder ort = ortDecoder(export.modelFile().getParent(), options)) {
            ortResult = decodeRounds(ort, prompts, options, log);
        }
        settle();
        EngineResult torchResult;
        try (Checkpoint weights = Checkpoint.open(checkpointDir);
             GreedyDecoder torch = torchDecoder(architecture, config, weights)) {
            torchResult = decodeRounds(torch, prompts, options, log);
        }
        settle();
        log.printf("[3/3] %.1f MB floor buffer, %d reads per method per round%n", export.weightBytes() / 1e6,
                FLOOR_READS_PER_ROUND);
        return new Measured(ortResult, torchResult, floorAlone(export.weightBytes(), options));
    }

    /**
     * The export quantized in {@code mode} with the quality gate off: bench measures speed; {@code stepwise quantize}
     * gates.
     */
    static QuantizeResult quantizeUngated(Path exportDir, Path out, QuantizeMode mode, int threads) {
        return Quantizer.quantize(exportDir, out, QuantizeOptions.defaults(mode).withGate(false).withThreads(threads));
    }

    /** The floor for {@code bytes} on its own: warm-up and measured rounds of a few reads with each method. */
    static FloorResult floorAlone(long bytes, BenchOptions options) {
        try (BandwidthFloor floor = BandwidthFloor.open(bytes, options.threads())) {
            return floorReads(floor, options);
        }
    }

    /** {@code options}' warm-up and measured rounds of every read method on an open floor buffer; the fastest wins. */
    static FloorResult floorReads(BandwidthFloor floor, BenchOptions options) {
        BandwidthFloor.Method[] methods = BandwidthFloor.Method.values();
        long[][] floorReads = new long[methods.length][options.runs() * FLOOR_READS_PER_ROUND];
        for (int round = -options.warmup(); round < options.runs(); round++) {
            for (BandwidthFloor.Method m : methods) {
                long[] reads = floor.read(m, FLOOR_READS_PER_ROUND);
                settle();
                if (round >= 0) {
                    System.arraycopy(reads, 0, floorReads[m.ordinal()], round * FLOOR_READS_PER_ROUND,
                            FLOOR_READS_PER_ROUND);
                }
            }
        }
        return FloorResult.fastest(floorReads, floor.bytes());
    }

    /** Warm-up and measured greedy decodes of one engine. */
    static EngineResult decodeRounds(GreedyDecoder engine, long[][] prompts, BenchOptions options,
                                             PrintStream log) {
        List<DecodeRun> runs = new ArrayList<>();
        for (int round = -options.warmup(); round < options.runs(); round++) {
            DecodeRun r = engine.decode(prompts, options.newTokens());
            settle();
            if (round >= 0) {
                runs.add(r);
                log.printf(Locale.ROOT, "      %s round %d: decode ms/token %.2f, prefill ms %.2f%n", engine.name(),
                        round + 1, Median.millis(r.decodeNanos()), r.prefillNanos() / 1e6);
            }
        }
        return EngineResult.of(engine.name(), runs);
    }

    /** Warm-up rounds, then measured ones; each round decodes once per engine and reads the floor with each method. */
    private static Measured rounds(GreedyDecoder ort, GreedyDecoder torch, BandwidthFloor floor, long[][] prompts,
                                   BenchOptions options, PrintStream log) {
        BandwidthFloor.Method[] methods = BandwidthFloor.Method.values();
        List<DecodeRun> ortRuns = new ArrayList<>();
        List<DecodeRun> torchRuns = new ArrayList<>();
        long[][] floorReads = new long[methods.length][options.runs() * FLOOR_READS_PER_ROUND];
        for (int round = -options.warmup(); round < options.runs(); round++) {
            DecodeRun o = ort.decode(prompts, options.newTokens());
            settle();
            DecodeRun t = torch.decode(prompts, options.newTokens());
            settle();
            long[][] reads = new long[methods.length][];
            for (BandwidthFloor.Method m : methods) {
                reads[m.ordinal()] = floor.read(m, FLOOR_READS_PER_ROUND);
                settle();
            }
            if (round < 0) {
                continue; // warm-up
            }
            ortRuns.add(o);
            torchRuns.add(t);
            for (int m = 0; m < methods.length; m++) {
                System.arraycopy(reads[m], 0, floorReads[m], round * FLOOR_READS_PER_ROUND, FLOOR_READS_PER_ROUND);
            }
            log.printf(Locale.ROOT, "      round %d: decode ms/token ONNX Runtime %.2f, PyTorch %.2f, floor %.2f;"
                            + " prefill ms %.2f / %.2f%n", round + 1, Median.millis(o.decodeNanos()),
                    Median.millis(t.decodeNanos()), FloorResult.fastest(reads, floor.bytes()).medianMillis(),
                    o.prefillNanos() / 1e6, t.prefillNanos() / 1e6);
        }
        return new Measured(EngineResult.of(ort.name(), ortRuns), EngineResult.of(torch.name(), torchRuns),
                FloorResult.fastest(floorReads, floor.bytes()));
    }

    /** Lets the engine that just ran park its worker threads before the next one is timed. */
    static void settle() {
        try {
            Thread.sleep(SETTLE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StepwiseException("benchmark interrupted");
        }
    }

    private static void checkFits(BenchOptions options, ModelConfig config) {
        long total = (long) options.promptLength() + options.newTokens();
        if (total > config.maxPositions()) {
            throw new StepwiseException("prompt length " + options.promptLength() + " + " + options.newTokens()
                    + " new tokens exceed the model's " + config.maxPositions() + " positions");
        }
    }

    static Path tempFolder() {
        try {
            return Files.createTempDirectory("stepwise-bench-");
        } catch (IOException e) {
            throw new StepwiseException("cannot create a temporary folder for the export: " + e.getMessage(), e);
        }
    }
}
