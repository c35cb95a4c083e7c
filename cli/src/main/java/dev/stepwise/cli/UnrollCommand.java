package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

@Command(name = "unroll", mixinStandardHelpOptions = true,
        description = {"Write one fully static ONNX graph per generation step (decoder_model-opt_gen_step=s.onnx),",
            "all sharing one weights file, checked step by step against the dynamic decoder.",
            "N new tokens need N step graphs (steps 0..N-1); --include-final-step adds step N (max(gen_step) = N).",
            "On an encoder-decoder (bart, t5) checkpoint: a static encoder (encoder_model-opt.onnx) for B inputs of",
            "--sequence-length tokens (shorter ones right padded and masked) and one decoder graph per step."})
final class UnrollCommand implements Callable<Integer> {
    @Mixin
    CheckpointOption checkpoint;

    @ParentCommand
    Main main;

    @Option(names = "--output", required = true, paramLabel = "DIR")
    Path output;

    @Mixin
    StepGraphShape shape;

    @Option(names = "--opset", defaultValue = "13")
    int opset;

    @Option(names = "--last-token-logits", description = "Prefill returns logits [B, 1, vocab] instead of [B, L, vocab].")
    boolean lastTokenLogits;

    @Option(names = "--include-final-step", description = "Also write step N (the max(gen_step) = max_new_tokens convention).")
    boolean includeFinalStep;

    @Option(names = "--atol", defaultValue = "NaN")
    double atol;

    @Option(names = "--no-validate")
    boolean noValidate;

    @Mixin
    QuantizeLastOption quantize;

    @Override
    public Integer call() {
        QuantizeMode mode = quantize.mode(new CommandLine(this));
        UnrollOptions options = UnrollOptions.of(shape.batch, shape.sequence, shape.maxNewTokens).withOpset(opset)
                .withLastTokenLogits(lastTokenLogits).withIncludeFinalStep(includeFinalStep).withAtol(atol)
                .withValidate(!noValidate).withProgress(new ConsoleProgress());
        Path folder = checkpoint.locate(main);
        if (mode != null) {
            Architectures.SEQ2SEQ.of(folder).ifPresent(a -> {
                throw new StepwiseException("--quantize applies to decoder-only unrolls: " + a.spec().modelType()
                        + " is an encoder-decoder; quantize its export with 'stepwise quantize'");
            });
        }
        return QuantizeLastOption.write(output, mode, dir -> printReport(Unroller.unroll(folder, dir, options)));
    }

    /** The op table, the step checks and the summary line, on stderr. */
    static Path printReport(UnrollResult result) {
        result.report().print(System.err);
        System.err.printf("unrolled %d step graphs into %s in %.1f s%n", result.steps().size(), result.outputDir(),
                result.report().seconds());
        return result.outputDir();
    }
}
