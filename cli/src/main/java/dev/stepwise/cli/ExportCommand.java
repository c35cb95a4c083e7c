package dev.stepwise.cli;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.GenerationGraph;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.quantize.QuantizeMode;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a Hugging Face checkpoint folder to a validated ONNX folder.")
final class ExportCommand implements Callable<Integer> {
    @Mixin
    CheckpointOption checkpoint;

    @ParentCommand
    Main main;

    @Mixin
    OutputFolderOption output;

    @Option(names = "--task",
            description = "text-generation-with-past (a decoder's default) or text-generation; for an encoder"
                    + " feature-extraction, text-classification or fill-mask (default: from config.json's architectures).")
    String task;

    @Option(names = "--opset", defaultValue = "0", description = "ONNX opset (default: the architecture's).")
    int opset;

    @Option(names = "--atol", defaultValue = "NaN", description = "Validation tolerance (default: the architecture's).")
    double atol;

    @Option(names = "--rtol", defaultValue = "NaN",
            description = "Relative validation tolerance: an output passes within atol + rtol x its max |reference| "
                    + "(default: 2e-5 for fp32, 2e-3 for fp16).")
    double rtol;

    @Option(names = "--dtype", defaultValue = "fp32",
            description = "Graph precision: fp32 (default, also for fp16/bf16 checkpoints; the fastest on CPU) or fp16 "
                    + "(weights, KV cache and logits in half precision: half the bytes, but ONNX Runtime's CPU fp16 "
                    + "kernels decode about 2.6x slower than fp32; validated against the float32 reference). bf16 is "
                    + "refused: ONNX Runtime's CPU provider has no bfloat16 MatMul kernel.")
    String dtype;

    @Option(names = "--no-validate", description = "Skip the comparison against the PyTorch reference.")
    boolean noValidate;

    @Option(names = "--generation", paramLabel = "LIST", defaultValue = "",
            description = "Also write whole-generation graphs: any of loop, beam-search, greedy-search, sampling (comma-separated).")
    String generation;

    @Option(names = "--last-logits-only",
            description = "Logits [batch, 1, vocab]: the LM head runs on the last position only (transformers' "
                    + "logits_to_keep=1; not optimum's contract, which has every position).")
    boolean lastLogitsOnly;

    @Option(names = "--optimize", paramLabel = "none|ort", defaultValue = "none",
            description = "Operators of the graph: none (default: standard ONNX operators, runs anywhere) or ort"
                    + " (ONNX Runtime's fused com.microsoft operators: GroupQueryAttention, RotaryEmbedding,"
                    + " Skip(Simplified)LayerNormalization, FastGelu / BiasGelu, MultiHeadAttention for encoders;"
                    + " ONNX Runtime only, float32; every decoder and BERT / DistilBERT, not seq2seq).")
    String optimize;

    @Option(names = "--max-length", paramLabel = "N", defaultValue = "0",
            description = "With --optimize ort: a preallocated KV cache of N positions (prompt plus new tokens), bound"
                    + " once per request and updated in place by GroupQueryAttention, so a decode step copies nothing"
                    + " that grows with the context; longer requests are refused.")
    int maxLength;

    @Option(names = "--triton-repository", paramLabel = "DIR",
            description = "Also lay the validated export out as a Triton Inference Server model repository (ONNX Runtime"
                    + " backend): decoder and each --generation graph with a config.pbtxt, weights hard-linked to the"
                    + " export's. A new or empty folder outside --output; not with --quantize.")
    Path tritonRepository;

    @Mixin
    QuantizeLastOption quantize;

    @Override
    public Integer call() {
        CommandLine cli = new CommandLine(this);
        QuantizeMode mode = quantize.mode(cli);
        if (mode != null && tritonRepository != null) {
            throw new ParameterException(cli, "--triton-repository lays out"
                    + " the float export, which --quantize does not keep; use one or the other");
        }
        Task t = task == null ? null : Usage.parsed(cli, "--task: ", () -> Task.fromCliName(task));
        Set<GenerationGraph> graphs = Usage.parsed(cli, "--generation: ", () -> GenerationGraph.parseList(generation));
        if (dtype.equals("bf16") || dtype.equals("bfloat16")) {
            throw new ParameterException(cli, "--dtype bf16: ONNX Runtime's CPU provider has no bfloat16 MatMul kernel,"
                    + " so a bf16 graph cannot run here; use fp32 (fastest on CPU; bf16 weights are widened exactly) or"
                    + " fp16 (half the bytes)");
        }
        DType d = Usage.graphDtype(cli, dtype);
        Optimize o = Usage.parsed(cli, "", () -> Optimize.parse(optimize, "--optimize"));
        if (maxLength < 0) {
            throw new ParameterException(cli, "--max-length: expected a number of positions > 0, got " + maxLength);
        }
        ExportOptions options = ExportOptions.defaults().withTask(t).withOpset(opset).withAtol(atol).withRtol(rtol)
                .withDtype(d).withValidate(!noValidate).withGeneration(graphs).withLastLogitsOnly(lastLogitsOnly)
                .withProgress(new ConsoleProgress()).withTritonRepository(tritonRepository).withOptimize(o)
                .withMaxLength(maxLength);
        Path folder = checkpoint.locate(main);
        return QuantizeLastOption.write(output.dir, mode, dir -> printValidation(Exporter.export(folder, dir, options)));
    }

    /** The validation lines and the export line, on stderr; returns the exported folder. */
    static Path printValidation(ExportResult result) {
        for (ValidationCase c : result.validation()) {
            if (c.rtol() > 0 && c.argmaxCompared() == 0) {
                System.err.printf("validated  %-40s worst max abs diff %.2e, %.1e of max |reference| (atol %.0e + rtol %.0e"
                        + " x max |reference|)%n", c.name(), c.worst(), c.worstRelative(), c.atol(), c.rtol());
            } else if (c.rtol() > 0) {
                System.err.printf("validated  %-40s worst max abs diff %.2e, %.1e of max |reference| (atol %.0e + rtol %.0e"
                        + " x max |reference|); greedy token agrees at %d/%d clear positions%n", c.name(), c.worst(),
                        c.worstRelative(), c.atol(), c.rtol(), c.argmaxAgreed(), c.argmaxCompared());
            } else {
                System.err.printf("validated  %-40s worst max abs diff %.2e (atol %.0e)%n", c.name(), c.worst(), c.atol());
            }
        }
        System.err.printf("exported   %s (%.1f MB of weights%s) in %.1f s%n", result.modelFile(), result.weightBytes() / 1e6,
                result.externalData() ? ", external data" : "", result.seconds());
        if (result.triton() != null) {
            System.err.printf("triton     %s (%s; %.1f MB hard-linked, %.1f MB copied)%n", result.triton().repository(),
                    String.join(", ", result.triton().models().keySet()), result.triton().linkedBytes() / 1e6,
                    result.triton().copiedBytes() / 1e6);
        }
        return result.outputDir();
    }
}
