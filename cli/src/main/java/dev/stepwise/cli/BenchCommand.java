package dev.stepwise.cli;

import dev.stepwise.annotations.DType;
import dev.stepwise.bench.BenchOptions;
import dev.stepwise.bench.BenchReport;
import dev.stepwise.bench.Benchmark;
import dev.stepwise.bench.FolderBenchmark;
import dev.stepwise.bench.MatrixBenchmark;
import dev.stepwise.bench.MatrixGrid;
import dev.stepwise.bench.MatrixReport;
import dev.stepwise.bench.StepGraphBenchmark;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.quantize.QuantizeMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * Exports a checkpoint and measures, in the same run, greedy decoding on ONNX Runtime, the same decoding on the
 * PyTorch-engine reference, and the memory-bandwidth floor. The table and progress go to stderr; with
 * {@code --json}, stdout gets one JSON object.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Export a checkpoint, then time ONNX Runtime decoding against the PyTorch-engine reference and "
                + "the memory-bandwidth floor.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "HF_CHECKPOINT_DIR|ORG/NAME[@REV]",
            description = "Checkpoint folder (config.json + safetensors), or a model id in the local Hugging Face cache.")
    Path model;

    @ParentCommand
    Main main;

    @Option(names = "--batch-size", defaultValue = "1", paramLabel = "N", description = "Prompts decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--prompt-length", defaultValue = "32", paramLabel = "N", description = "Tokens per random prompt (default: ${DEFAULT-VALUE}).")
    int promptLength;

    @Option(names = "--new-tokens", defaultValue = "32", paramLabel = "N",
            description = "Greedy tokens per row: one from prefill, the rest from decode steps (default: ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Intra-op threads for both engines and the floor (default: every core).")
    int threads;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "K",
            description = "Unmeasured rounds first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "R",
            description = "Measured rounds, each one greedy decode per engine and a few floor reads (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Seed of the random prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--unrolled", description = "Instead: unroll the checkpoint for --batch-size, --prompt-length and "
            + "--new-tokens, and time the Java generator on the step graphs against the dynamic decoder.")
    boolean unrolled;

    @Option(names = "--quantize", split = ",", paramLabel = "int8,int4,int8-static",
            description = "Also quantize the export in each mode (speed only; no quality gate) and time decode on it, "
                    + "with its own floor.")
    List<String> quantize;

    @Option(names = "--json", description = "Print one JSON object with every figure on stdout.")
    boolean json;

    @Option(names = "--optimize", paramLabel = "ort",
            description = "Also export with --optimize ort (ONNX Runtime's fused operators, validated) and time decode"
                    + " on it with the same prompts, next to the plain export.")
    String optimize;

    @Option(names = "--profile",
            description = "Also run ONNX Runtime's profiler on a decode step at past = --prompt-length (plain export,"
                    + " and the fused one with --optimize ort) and print kernel time by op type.")
    boolean profile;

    @Option(names = "--dtype", defaultValue = "fp32",
            description = "Precision of the benchmarked export: fp32 (default) or fp16 (the PyTorch engine runs fp32).")
    String dtype;

    @Option(names = "--matrix", description = "Instead: one run over issue 12's grid (--variants x --precisions x"
            + " --batches x decode at --pasts and prefill of --prefills), each cell with its own floor and the PyTorch"
            + " engine's fp32 figure, and the issue's targets marked met / not met.")
    boolean matrix;

    @Option(names = "--variants", defaultValue = "plain,ort,ort-kv", paramLabel = "plain,ort,ort-kv",
            description = "With --matrix: exports to time (ort = --optimize ort; ort-kv = --optimize ort --max-length"
                    + " of the longest cell, an in-place cache; a variant an architecture cannot"
                    + " take is skipped with the reason) (default: ${DEFAULT-VALUE}).")
    String variants;

    @Option(names = "--precisions", defaultValue = "fp32,int8,int4", paramLabel = "fp32,int8,int4",
            description = "With --matrix: each variant as exported and quantized (no gate) (default: ${DEFAULT-VALUE}).")
    String precisions;

    @Option(names = "--batches", defaultValue = "1,8", paramLabel = "N,...",
            description = "With --matrix: batch sizes (default: ${DEFAULT-VALUE}).")
    String batches;

    @Option(names = "--pasts", defaultValue = "32,512,2048", paramLabel = "P,...",
            description = "With --matrix: past lengths a decode step is timed at, after a prefill of that many tokens"
                    + " (default: ${DEFAULT-VALUE}).")
    String pasts;

    @Option(names = "--prefills", defaultValue = "128,1024", paramLabel = "N,...",
            description = "With --matrix: prompt lengths a prefill is timed at (default: ${DEFAULT-VALUE}).")
    String prefills;

    @Option(names = "--decode-steps", defaultValue = "4", paramLabel = "N",
            description = "With --matrix: timed decode steps per round of a decode cell (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--folders", split = ",", paramLabel = "DIR,DIR...",
            description = "Instead: time ONNX Runtime decode on existing export folders (as export, quantize or export"
                    + " --optimize ort wrote them, each with its own options) in one run, each with its own floor,"
                    + " against the first; --model is then not read.")
    List<Path> folders;

    @Override
    public Integer call() {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        BenchOptions options;
        try {
            DType d = switch (dtype) {
                case "fp32", "float32" -> DType.FLOAT;
                case "fp16", "float16" -> DType.FLOAT16;
                default -> throw new StepwiseException("--dtype: expected fp32 or fp16, got '" + dtype + "'");
            };
            options = new BenchOptions(batchSize, promptLength, newTokens, n, warmup, runs, seed, d);
        } catch (StepwiseException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage()); // a bad flag value: usage error
        }
        if (folders == null && model == null) {
            throw new ParameterException(spec.commandLine(), "Missing required option: '--model' (or --folders)");
        }
        if (folders != null) {
            FolderBenchmark.Report report = FolderBenchmark.run(folders, options, System.err);
            System.err.print(report.toTable());
            if (json) {
                System.out.println(report.toJson());
            }
            return 0;
        }
        if (matrix) {
            MatrixGrid grid;
            try {
                grid = new MatrixGrid(MatrixGrid.names(variants), MatrixGrid.names(precisions),
                        MatrixGrid.ints("--batches", batches), MatrixGrid.ints("--pasts", pasts),
                        MatrixGrid.ints("--prefills", prefills), decodeSteps);
            } catch (StepwiseException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            MatrixReport report = MatrixBenchmark.run(main.locateModel(model), grid, options, new ConsoleProgress(),
                    System.err);
            System.err.print(report.toTable());
            if (json) {
                System.out.println(report.toJson());
            }
            return 0;
        }
        if (unrolled) {
            System.out.print(StepGraphBenchmark.run(main.locateModel(model), options, System.err).toTable());
            return 0;
        }
        List<QuantizeMode> modes = new ArrayList<>();
        for (String m : quantize != null ? quantize : List.<String>of()) {
            modes.add(QuantizeCommand.mode(spec.commandLine(), "--quantize", m.trim()));
        }
        boolean fused = false;
        if (optimize != null) {
            try {
                fused = Optimize.parse(optimize, "--optimize") == Optimize.ORT;
            } catch (StepwiseException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        BenchReport report = Benchmark.run(main.locateModel(model), options, modes, fused, profile,
                new ConsoleProgress(), System.err);
        System.err.print(report.toTable());
        if (json) {
            System.out.println(report.toJson());
        }
        return 0;
    }
}
