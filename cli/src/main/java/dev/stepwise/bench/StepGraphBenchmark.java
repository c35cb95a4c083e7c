package dev.stepwise.bench;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench --unrolled}: the same greedy request through an unrolled folder (one session per step graph, weights
 * shared from one memory map) and through the dynamic decoder, both driven by the Java generator, rounds alternating;
 * prints median prefill and decode ms/token of each and their ratio, and checks both gave the same tokens.
 */
public final class StepGraphBenchmark {
    /** The two engines' figures. */
    public record Result(EngineResult dynamic, EngineResult steps, long weightBytes, long mappedBytes) {
        /** Step graphs' decode time over the dynamic decoder's. */
        public double decodeRatio() {
            return steps.decodeMillisPerToken() / dynamic.decodeMillisPerToken();
        }

        public String toTable() {
            return String.format(Locale.ROOT, "engine (Java generator)     prefill ms   decode ms/token%n"
                            + "dynamic decoder             %10.2f   %15.2f%n"
                            + "unrolled step graphs        %10.2f   %15.2f   (%.2fx the dynamic decoder)%n"
                            + "weights %.1f MB, mapped once for every step session: %.1f MB%n",
                    dynamic.prefillMillis(), dynamic.decodeMillisPerToken(), steps.prefillMillis(),
                    steps.decodeMillisPerToken(), decodeRatio(), weightBytes / 1e6, mappedBytes / 1e6);
        }
    }

    private StepGraphBenchmark() {
    }

    public static Result run(Path checkpointDir, BenchOptions options, PrintStream log) {
        int vocab = ModelFolder.read(checkpointDir).config().vocabSize();
        long[][] prompts = PromptIds.random(options.batchSize(), options.promptLength(), vocab, options.seed());
        Path work;
        try {
            work = Files.createTempDirectory("stepwise-bench-unrolled-");
        } catch (IOException e) {
            throw new StepwiseException("cannot create a temporary folder for the bench: " + e.getMessage(), e);
        }
        try {
            log.printf("[1/3] export (no validation) and unroll %d steps: %s -> %s%n", options.newTokens(), checkpointDir, work);
            Path dynamicDir = work.resolve("onnx");
            Exporter.export(checkpointDir, dynamicDir, ExportOptions.defaults().withValidate(false));
            Path stepsDir = Unroller.unroll(checkpointDir, work.resolve("steps"), UnrollOptions.of(options.batchSize(),
                    options.promptLength(), options.newTokens()).withValidate(false)).outputDir();
            log.printf("[2/3] opening the dynamic decoder and the step graphs (%d threads)%n", options.threads());
            try (ExportedModel dynamic = ExportedModel.open(dynamicDir, options.threads());
                 StepGraphs steps = StepGraphs.open(stepsDir, options.threads())) {
                GreedyDecoder a = new GeneratorDecoder("dynamic", dynamic, null);
                GreedyDecoder b = new GeneratorDecoder("steps", steps, null);
                log.printf("[3/3] %d warm-up + %d measured rounds, alternating%n", options.warmup(), options.runs());
                List<DecodeRun> aRuns = new ArrayList<>();
                List<DecodeRun> bRuns = new ArrayList<>();
                for (int round = -options.warmup(); round < options.runs(); round++) {
                    DecodeRun x = a.decode(prompts, options.newTokens());
                    DecodeRun y = b.decode(prompts, options.newTokens());
                    if (!Arrays.deepEquals(x.tokens(), y.tokens())) {
                        throw new StepwiseException("the step graphs generated other tokens than the dynamic decoder");
                    }
                    if (round >= 0) {
                        aRuns.add(x);
                        bRuns.add(y);
                        log.printf(Locale.ROOT, "      round %d: decode ms/token dynamic %.2f, steps %.2f%n", round + 1,
                                Median.millis(x.decodeNanos()), Median.millis(y.decodeNanos()));
                    }
                }
                return new Result(EngineResult.of(a.name(), aRuns), EngineResult.of(b.name(), bRuns),
                        Files.size(stepsDir.resolve(Unroller.WEIGHTS_FILE)), steps.mappedWeightBytes());
            }
        } catch (IOException e) {
            throw new StepwiseException("cannot read the unrolled weights: " + e.getMessage(), e);
        } finally {
            OutputFolder.deleteRecursively(work);
        }
    }
}
