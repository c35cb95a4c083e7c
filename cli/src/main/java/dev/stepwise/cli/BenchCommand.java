package dev.stepwise.cli;

import dev.stepwise.bench.BenchOptions;
import dev.stepwise.bench.BenchReport;
import dev.stepwise.bench.Benchmark;
import dev.stepwise.bench.FolderBenchmark;
import dev.stepwise.bench.MatrixBenchmark;
import dev.stepwise.bench.MatrixReport;
import dev.stepwise.bench.StepGraphBenchmark;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.quantize.QuantizeMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Mixin
    BenchRunFlags run;

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

    @Option(names = "--matrix", description = "Instead: one run over issue 12's grid (--variants x --precisions x"
            + " --batches x decode at --pasts and prefill of --prefills), each cell with its own floor and the PyTorch"
            + " engine's fp32 figure, and the issue's targets marked met / not met.")
    boolean matrix;

    @Mixin
    MatrixGridFlags grid;

    @Option(names = "--folders", split = ",", paramLabel = "DIR,DIR...",
            description = "Instead: time ONNX Runtime decode on existing export folders (as export, quantize or export"
                    + " --optimize ort wrote them, each with its own options) in one run, each with its own floor,"
                    + " against the first; --model is then not read.")
    List<Path> folders;

    @Override
    public Integer call() {
        CommandLine cli = spec.commandLine();
        BenchOptions options = run.options(cli);
        if (folders == null && model == null) {
            throw new ParameterException(cli, "Missing required option: '--model' (or --folders)");
        }
        if (folders != null) {
            FolderBenchmark.Report report = FolderBenchmark.run(folders, options, System.err);
            return print(report.toTable(), report::toJson);
        }
        if (matrix) {
            MatrixReport report = MatrixBenchmark.run(main.locateModel(model), grid.grid(cli), options,
                    new ConsoleProgress(), System.err);
            return print(report.toTable(), report::toJson);
        }
        if (unrolled) {
            System.out.print(StepGraphBenchmark.run(main.locateModel(model), options, System.err).toTable());
            return 0;
        }
        List<QuantizeMode> modes = new ArrayList<>();
        for (String m : quantize != null ? quantize : List.<String>of()) {
            modes.add(QuantizeCommand.mode(cli, "--quantize", m.trim()));
        }
        boolean fused = optimize != null
                && Usage.parsed(cli, "", () -> Optimize.parse(optimize, "--optimize")) == Optimize.ORT;
        BenchReport report = Benchmark.run(main.locateModel(model), options, modes, fused, profile,
                new ConsoleProgress(), System.err);
        return print(report.toTable(), report::toJson);
    }

    /** A report's table on stderr, and with {@code --json} its JSON object on stdout. */
    private int print(String table, Supplier<String> json) {
        System.err.print(table);
        if (this.json) {
            System.out.println(json.get());
        }
        return 0;
    }
}
