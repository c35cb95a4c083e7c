package dev.stepwise.bench;

import dev.stepwise.reference.TorchDecoding;
import dev.stepwise.reference.TorchOps;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.loop.LoopEngine;
import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.loop.LoopGraphStats;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * In the spirit of onnx_gpt_loop's benchmark: greedy generation of {@code newTokens} tokens for a batch of
 * equal-length random prompts with GPT-2-shaped random weights, three ways, in one run:
 * <ul>
 *   <li><b>loop</b>: {@code model_loop.onnx}, the whole generation in one ONNX Runtime {@code session.run};</li>
 *   <li><b>java</b>: the exported KV-cache decoder driven step by step from Java ({@link Generator#greedy}), the
 *       cache handed from step to step as ONNX Runtime tensors;</li>
 *   <li><b>pytorch</b>: the same forward run eagerly on DJL's PyTorch engine with a libtorch KV cache (the reference
 *       every export is validated against).</li>
 * </ul>
 * Each repeat runs the three in turn (after one untimed warm-up each), so load from other processes spreads over
 * all of them; figures are medians of wall time for a whole generation (prefill included), and ratios are taken
 * against the loop graph. The loop graph and the Java loop must produce identical tokens; PyTorch's may differ
 * where float rounding flips a near tie, which the report counts.
 */
public final class LoopBenchmark {
    private LoopBenchmark() {
    }

    /**
     * What to run. The default scales GPT-2 (124M) down to fit a small machine: the real vocabulary (50257), so the
     * LM head's share of the work stays GPT-2-like, with 4 layers of width 256.
     */
    public record Options(int batch, int promptLength, int newTokens, int vocab, int embd, int layers, int heads,
                          int repeats, int threads, long seed, Path workDir) {
        public static Options defaults() {
            return new Options(64, 36, 36, 50257, 256, 4, 4, 3, 0, 1, null);
        }

        /** GPT-2 small's own shape (124M parameters). */
        public Options gpt2Small() {
            return new Options(batch, promptLength, newTokens, 50257, 768, 12, 12, repeats, threads, seed, workDir);
        }

        public Options withBatch(int b) {
            return new Options(b, promptLength, newTokens, vocab, embd, layers, heads, repeats, threads, seed, workDir);
        }

        public Options withLengths(int prompt, int generated) {
            return new Options(batch, prompt, generated, vocab, embd, layers, heads, repeats, threads, seed, workDir);
        }

        public Options withModel(int v, int e, int l, int h) {
            return new Options(batch, promptLength, newTokens, v, e, l, h, repeats, threads, seed, workDir);
        }

        public Options withRepeats(int r) {
            return new Options(batch, promptLength, newTokens, vocab, embd, layers, heads, r, threads, seed, workDir);
        }

        public Options withThreads(int t) {
            return new Options(batch, promptLength, newTokens, vocab, embd, layers, heads, repeats, t, seed, workDir);
        }

        public Options withWorkDir(Path dir) {
            return new Options(batch, promptLength, newTokens, vocab, embd, layers, heads, repeats, threads, seed, dir);
        }

        int effectiveThreads() {
            return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        }
    }

    /** Seconds per whole generation, one entry per repeat, and how the engines' tokens compare. */
    public record Result(Options options, long parameters, int threads, double[] loopSeconds, double[] javaSeconds,
                         double[] torchSeconds, boolean loopEqualsJava, int torchRowsEqual, int loopGraphNodes) {

        public double loopMedian() {
            return median(loopSeconds);
        }

        public double javaMedian() {
            return median(javaSeconds);
        }

        public double torchMedian() {
            return median(torchSeconds);
        }

        /** Java step loop time over loop graph time (> 1: the loop graph is faster). */
        public double javaOverLoop() {
            return javaMedian() / loopMedian();
        }

        /** PyTorch-engine time over loop graph time (> 1: the loop graph is faster). */
        public double torchOverLoop() {
            return torchMedian() / loopMedian();
        }

        /** New tokens per second, all rows together. */
        public double tokensPerSecond(double seconds) {
            return (double) options.batch() * options.newTokens() / seconds;
        }

        public String report() {
            Options o = options;
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT,
                    "loop benchmark: GPT-2-shaped random weights (vocab %d, n_embd %d, %d layers, %d heads; %.1fM"
                            + " parameters), batch %d, %d-token prompts, %d new tokens greedy, %d threads, median of %d%n",
                    o.vocab(), o.embd(), o.layers(), o.heads(), parameters / 1e6, o.batch(), o.promptLength(),
                    o.newTokens(), threads, loopSeconds.length));
            sb.append(String.format(Locale.ROOT, "  %-32s %9s %11s %10s %9s %10s%n", "engine", "median s", "tokens/s",
                    "vs loop", "best s", "best vs loop"));
            row(sb, "loop graph (model_loop.onnx)", loopSeconds, loopSeconds);
            row(sb, "Java step loop (model.onnx)", javaSeconds, loopSeconds);
            row(sb, "PyTorch engine (eager, KV cache)", torchSeconds, loopSeconds);
            sb.append(String.format(Locale.ROOT, "  tokens: loop %s Java step loop; PyTorch equal on %d of %d rows%n",
                    loopEqualsJava ? "==" : "!=", torchRowsEqual, o.batch()));
            sb.append(String.format(Locale.ROOT, "  runs (s): loop %s, java %s, pytorch %s%n", runs(loopSeconds),
                    runs(javaSeconds), runs(torchSeconds)));
            return sb.toString();
        }

        private void row(StringBuilder sb, String name, double[] runs, double[] loopRuns) {
            double median = median(runs);
            double best = Arrays.stream(runs).min().orElseThrow();
            double loopBest = Arrays.stream(loopRuns).min().orElseThrow();
            sb.append(String.format(Locale.ROOT, "  %-32s %9.3f %11.1f %9.2fx %9.3f %11.2fx%n", name, median,
                    tokensPerSecond(median), median / median(loopRuns), best, best / loopBest));
        }

        private static String runs(double[] xs) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < xs.length; i++) {
                sb.append(i == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.3f", xs[i]));
            }
            return sb.append(']').toString();
        }
    }

    public static Result run(Options o) {
        if (o.batch() < 1 || o.promptLength() < 1 || o.newTokens() < 1 || o.repeats() < 1) {
            throw new StepwiseException("batch, prompt length, new tokens and repeats must be at least 1");
        }
        Path work = o.workDir();
        boolean temporary = work == null;
        try {
            work = temporary ? Files.createTempDirectory("stepwise-loop-bench") : Files.createDirectories(work);
            return run(o, work);
        } catch (IOException e) {
            throw new StepwiseException("cannot create the benchmark folder: " + e.getMessage(), e);
        } finally {
            if (temporary && work != null) {
                deleteRecursively(work);
            }
        }
    }

    private static Result run(Options o, Path work) {
        int threads = o.effectiveThreads();
        Path checkpoint = work.resolve("checkpoint");
        int positions = Math.max(1024, o.promptLength() + o.newTokens());
        long parameters = BenchCheckpoint.write(checkpoint, o.vocab(), o.embd(), o.layers(), o.heads(), positions, o.seed());
        Architecture gpt2 = Architectures.forModelType("gpt2", "the loop benchmark");
        Path decoderDir = Exporter.export(gpt2, checkpoint, work.resolve("decoder"),
                ExportOptions.defaults().withValidate(false)).outputDir();
        Path loopFile = LoopGraphBuilder.write(gpt2, checkpoint, work.resolve("loop"), 0);
        int nodes = LoopGraphStats.nodeCount(loopFile);

        long[][] prompts = new long[o.batch()][o.promptLength()];
        SplittableRandom random = new SplittableRandom(o.seed() + 1);
        for (long[] p : prompts) {
            for (int t = 0; t < p.length; t++) {
                p[t] = random.nextInt(o.vocab());
            }
        }
        List<long[]> promptList = Arrays.asList(prompts);
        GenerationConfig greedy = GenerationConfig.greedy(o.newTokens());

        double[] loopSeconds = new double[o.repeats()];
        double[] javaSeconds = new double[o.repeats()];
        double[] torchSeconds = new double[o.repeats()];
        long[][] loopTokens;
        long[][] javaTokens;
        long[][] torchTokens;
        TorchOps.setThreads(threads);
        ModelConfig config = ModelConfig.read(checkpoint.resolve("config.json"), gpt2.spec().configKeys());
        try (LoopEngine loop = LoopEngine.open(loopFile, threads);
             ExportedModel decoder = ExportedModel.open(decoderDir, threads);
             Checkpoint weights = Checkpoint.open(checkpoint);
             TorchDecoding torch = new TorchDecoding(gpt2, config, weights)) {
            Generator java = new Generator(decoder);
            Generator reference = new Generator(torch);
            loopTokens = loop.run(promptList, greedy, 0, List.of());
            javaTokens = newTokens(java.greedy(promptList, o.newTokens()), o.promptLength());
            torchTokens = newTokens(reference.greedy(promptList, o.newTokens()), o.promptLength());
            for (int r = 0; r < o.repeats(); r++) {
                long start = System.nanoTime();
                loop.run(promptList, greedy, 0, List.of());
                loopSeconds[r] = (System.nanoTime() - start) / 1e9;
                start = System.nanoTime();
                java.greedy(promptList, o.newTokens());
                javaSeconds[r] = (System.nanoTime() - start) / 1e9;
                start = System.nanoTime();
                reference.greedy(promptList, o.newTokens());
                torchSeconds[r] = (System.nanoTime() - start) / 1e9;
            }
        }
        int torchEqual = 0;
        for (int b = 0; b < o.batch(); b++) {
            torchEqual += Arrays.equals(loopTokens[b], torchTokens[b]) ? 1 : 0;
        }
        return new Result(o, parameters, threads, loopSeconds, javaSeconds, torchSeconds,
                Arrays.deepEquals(loopTokens, javaTokens), torchEqual, nodes);
    }

    private static long[][] newTokens(List<long[]> rows, int promptLength) {
        long[][] out = new long[rows.size()][];
        for (int b = 0; b < out.length; b++) {
            out[b] = Arrays.copyOfRange(rows.get(b), promptLength, rows.get(b).length);
        }
        return out;
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a leftover temporary folder is harmless
        }
    }

    /**
     * {@code [--batch N] [--prompt N] [--new N] [--vocab N --embd N --layers N --heads N | --gpt2-small]
     * [--repeats N] [--threads N] [--dir PATH]}
     */
    public static void main(String[] args) {
        Options o = Options.defaults();
        List<String> a = new ArrayList<>(List.of(args));
        for (int i = 0; i < a.size(); i++) {
            String key = a.get(i);
            if (key.equals("--gpt2-small")) {
                o = o.gpt2Small();
                continue;
            }
            if (i + 1 >= a.size()) {
                throw new IllegalArgumentException(key + " needs a value");
            }
            String v = a.get(++i);
            o = switch (key) {
                case "--batch" -> o.withBatch(Integer.parseInt(v));
                case "--prompt" -> o.withLengths(Integer.parseInt(v), o.newTokens());
                case "--new" -> o.withLengths(o.promptLength(), Integer.parseInt(v));
                case "--vocab" -> o.withModel(Integer.parseInt(v), o.embd(), o.layers(), o.heads());
                case "--embd" -> o.withModel(o.vocab(), Integer.parseInt(v), o.layers(), o.heads());
                case "--layers" -> o.withModel(o.vocab(), o.embd(), Integer.parseInt(v), o.heads());
                case "--heads" -> o.withModel(o.vocab(), o.embd(), o.layers(), Integer.parseInt(v));
                case "--repeats" -> o.withRepeats(Integer.parseInt(v));
                case "--threads" -> o.withThreads(Integer.parseInt(v));
                case "--dir" -> o.withWorkDir(Path.of(v));
                default -> throw new IllegalArgumentException("unknown option " + key);
            };
        }
        System.out.print(run(o).report());
    }
}
