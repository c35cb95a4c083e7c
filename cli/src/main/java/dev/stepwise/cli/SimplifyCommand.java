package dev.stepwise.cli;

import dev.stepwise.runtime.simplify.Simplifier;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "simplify", mixinStandardHelpOptions = true,
        description = {"Turn a dynamic ONNX decoder (optimum-style past_key_values.* inputs, onnxruntime-genai, or a"
                + " merged decoder with an If on use_cache_branch) into one static graph per generation step,"
                + " decoder_model-opt_gen_step=N.onnx, sharing one weights file; verified against the original in"
                + " ONNX Runtime."})
final class SimplifyCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "ONNX_FILE", description = "The dynamic decoder.")
    Path model;

    @Mixin
    OutputFolderOption output;

    @Mixin
    StepGraphShape shape;

    @Option(names = "--opset-check", description = "Also fail when a step graph uses an op newer than its opset import.")
    boolean opsetCheck;

    @Option(names = "--no-verify", description = "Skip the comparison against the original in ONNX Runtime.")
    boolean noVerify;

    @Option(names = "--rtol", defaultValue = "NaN", description = "Relative tolerance (default 1e-3 for fp16, 1e-4 for fp32).")
    double rtol;

    @Option(names = "--atol", defaultValue = "NaN", description = "Absolute tolerance (default 1e-3 for fp16, 1e-4 for fp32).")
    double atol;

    @Mixin
    OrtThreadsOption threads;

    @Override
    public Integer call() {
        Simplifier.Options options = Simplifier.Options.of(shape.batch, shape.sequence, shape.maxNewTokens).withOpsetCheck(opsetCheck)
                .withVerify(!noVerify).withTolerance(rtol, atol).withThreads(threads.count);
        Simplifier.Result result = Simplifier.run(model, output.dir, options);
        System.err.print(Simplifier.summary(result));
        if (noVerify) {
            System.err.println("not verified (--no-verify)");
        } else {
            System.err.printf("verified   %d steps against %s (rtol %.0e, atol %.0e), same greedy tokens%n",
                    result.steps().size(), model.getFileName(), result.rtol(), result.atol());
        }
        System.out.println(result.output());
        return 0;
    }
}
