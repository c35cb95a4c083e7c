package dev.stepwise.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.ort.OrtSessions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench --folders A,B,...}: ONNX Runtime decode on folders that already exist (an export, its quantized or
 * fused forms, each made with its own options), timed in one run so their ratios share the machine's state. Each
 * folder gets its own floor: the bytes its decode step reads ({@link DecodeStepBytes}) at the bandwidth the run
 * measures once. When every session fits in half the memory at once, the rounds are interleaved (folder A, B, ...,
 * then A again), so load that comes and goes lands on all of them; otherwise one folder after another.
 */
public final class FolderBenchmark {
    private FolderBenchmark() {
    }

    /** One folder's figures: its decode-step bytes, ONNX Runtime's rounds on it and its own floor. */
    public record FolderResult(Path folder, long stepBytes, EngineResult ort, double floorMillis) {
        /** Decode time over its own floor. */
        public double vsFloor() {
            return ort.decodeMillisPerToken() / floorMillis;
        }
    }

    /** Times every folder in {@code folders} with {@code options}; the first folder's vocabulary draws the prompts. */
    public static Report run(List<Path> folders, BenchOptions options, PrintStream log) {
        double loadBefore = MachineFacts.loadAverage();
        if (folders.isEmpty()) {
            throw new StepwiseException("--folders: expected at least one export folder");
        }
        List<Long> stepBytes = new ArrayList<>();
        for (Path f : folders) {
            Path model = f.resolve(Exporter.MODEL_FILE);
            if (!Files.isRegularFile(model)) {
                throw new StepwiseException(f + ": not an export folder (no " + Exporter.MODEL_FILE + ")");
            }
            stepBytes.add(DecodeStepBytes.of(model));
        }
        long[][] prompts = PromptIds.random(options.batchSize(), options.promptLength(), ModelFolder.read(folders.get(0)).config().vocabSize(),
                options.seed());
        long largest = stepBytes.stream().mapToLong(Long::longValue).max().orElseThrow();
        log.printf("[floor] %.1f MB buffer%n", largest / 1e6);
        double bytesPerMs = Benchmark.floorAlone(largest, options).gigabytesPerSecond() * 1e6;

        long together = 2 * stepBytes.stream().mapToLong(Long::longValue).sum(); // each session's packed copy too
        List<EngineResult> measured = together < MachineFacts.physicalMemoryBytes() / 2
                ? interleaved(folders, prompts, options, log) : oneAfterAnother(folders, prompts, options, log);
        List<FolderResult> results = new ArrayList<>();
        for (int i = 0; i < folders.size(); i++) {
            results.add(new FolderResult(folders.get(i), stepBytes.get(i), measured.get(i),
                    stepBytes.get(i) / bytesPerMs));
        }
        return new Report(results, options, loadBefore, MachineFacts.loadAverage());
    }

    private static List<EngineResult> interleaved(List<Path> folders, long[][] prompts, BenchOptions options,
                                                  PrintStream log) {
        log.printf("[decode] %d folders, rounds interleaved (%d warm-up + %d measured)%n", folders.size(),
                options.warmup(), options.runs());
        List<GreedyDecoder> decoders = new ArrayList<>();
        try {
            List<List<DecodeRun>> runs = new ArrayList<>();
            for (Path f : folders) {
                decoders.add(Benchmark.ortDecoder(f, options));
                runs.add(new ArrayList<>());
            }
            for (int round = -options.warmup(); round < options.runs(); round++) {
                for (int i = 0; i < decoders.size(); i++) {
                    DecodeRun r = decoders.get(i).decode(prompts, options.newTokens());
                    Benchmark.settle();
                    if (round >= 0) {
                        runs.get(i).add(r);
                        log.printf(Locale.ROOT, "      %s round %d: decode ms/token %.2f, prefill ms %.2f%n",
                                name(folders.get(i)), round + 1, Median.millis(r.decodeNanos()),
                                r.prefillNanos() / 1e6);
                    }
                }
            }
            List<EngineResult> results = new ArrayList<>();
            for (int i = 0; i < folders.size(); i++) {
                results.add(EngineResult.of(name(folders.get(i)), runs.get(i)));
            }
            return results;
        } finally {
            decoders.forEach(GreedyDecoder::close);
        }
    }

    private static List<EngineResult> oneAfterAnother(List<Path> folders, long[][] prompts, BenchOptions options,
                                                      PrintStream log) {
        log.printf("[decode] %d folders do not fit in memory together: one after another%n", folders.size());
        List<EngineResult> results = new ArrayList<>();
        for (Path f : folders) {
            try (GreedyDecoder d = Benchmark.ortDecoder(f, options)) {
                results.add(Benchmark.decodeRounds(d, prompts, options, log));
            }
            Benchmark.settle();
        }
        return results;
    }

    private static String name(Path folder) {
        return folder.getFileName().toString();
    }

    /** A run's figures, with the load average before and after it. */
    public record Report(List<FolderResult> results, BenchOptions options, double loadBefore, double loadAfter) {
        /** The table {@code bench --folders} prints: each folder's figures and its decode against the first's. */
        public String toTable() {
            return table(this);
        }

        /** The one JSON object {@code bench --folders --json} prints: each folder's figures and the machine's. */
        public String toJson() {
            JsonObject j = new JsonObject();
            j.addProperty("batch_size", options.batchSize());
            j.addProperty("prompt_length", options.promptLength());
            j.addProperty("new_tokens", options.newTokens());
            j.addProperty("threads", options.threads());
            JsonArray rows = new JsonArray();
            double first = results.get(0).ort().decodeMillisPerToken();
            for (FolderResult r : results) {
                JsonObject o = new JsonObject();
                o.addProperty("folder", r.folder().toString());
                o.addProperty("decode_step_bytes", r.stepBytes());
                o.addProperty("prefill_ms", BenchReport.round(r.ort().prefillMillis()));
                o.addProperty("decode_ms_per_token", BenchReport.round(r.ort().decodeMillisPerToken()));
                o.addProperty("floor_ms_per_token", BenchReport.round(r.floorMillis()));
                o.addProperty("vs_floor", BenchReport.round(r.vsFloor()));
                o.addProperty("vs_first", BenchReport.round(r.ort().decodeMillisPerToken() / first));
                rows.add(o);
            }
            j.add("folders", rows);
            MachineFacts m = MachineFacts.current();
            j.addProperty("cores", m.cores());
            j.addProperty("cpu_model", m.cpuModel());
            j.addProperty("onnxruntime_version", OrtSessions.environment().getVersion());
            j.addProperty("load_average_before", loadBefore);
            j.addProperty("load_average_after", loadAfter);
            return j.toString();
        }
    }

    private static String table(Report report) {
        List<FolderResult> results = report.results();
        BenchOptions options = report.options();
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "bench --folders: batch %d, prompt %d, %d new tokens, %d threads,"
                        + " medians of %d runs%n", options.batchSize(), options.promptLength(), options.newTokens(),
                options.threads(), options.runs()));
        s.append(String.format(Locale.ROOT, "  %-28s %11s %15s %13s %11s %12s %10s%n", "folder", "prefill ms",
                "decode ms/tok", "read/step MB", "floor ms", "vs floor", "vs first"));
        double first = results.get(0).ort().decodeMillisPerToken();
        for (FolderResult r : results) {
            s.append(String.format(Locale.ROOT, "  %-28s %11.2f %15.2f %13.1f %11.2f %11.2fx %9.2fx%n",
                    name(r.folder()), r.ort().prefillMillis(), r.ort().decodeMillisPerToken(), r.stepBytes() / 1e6,
                    r.floorMillis(), r.vsFloor(), r.ort().decodeMillisPerToken() / first));
        }
        s.append(MachineFacts.current().line(new BenchReport.Versions(OrtSessions.environment().getVersion(), "-",
                "-"), report.loadBefore(), report.loadAfter()));
        return s.toString();
    }
}
