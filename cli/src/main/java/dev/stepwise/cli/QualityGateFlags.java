package dev.stepwise.cli;

import dev.stepwise.runtime.quantize.QuantizeOptions;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** quantize's gate: the comparison with the float model, its inputs and the thresholds it must meet. */
final class QualityGateFlags {
    @Option(names = "--no-gate", description = "Skip the comparison with the float model (graphs are still loaded in ONNX Runtime).")
    boolean noGate;

    @Option(names = "--eval", paramLabel = "FILE", description = "Evaluation inputs: one prompt or one row of token ids per line (default: a built-in set).")
    Path eval;

    @Option(names = "--min-top1", description = "Decoders: least next-token top-1 agreement (default 0.98 int8, 0.96 int4, 0.97 int8-static).")
    Double minTop1;

    @Option(names = "--max-kl", description = "Decoders: largest mean KL divergence of next-token distributions (default 0.02 int8, 0.05 int4 and int8-static).")
    Double maxKl;

    @Option(names = "--min-cosine", description = "Encoders: least mean cosine of mean-pooled outputs (default 0.995 int8 and int8-static, 0.98 int4).")
    Double minCosine;

    @Mixin
    OrtThreadsOption threads;

    /** {@code options} (the mode's defaults) with the gate the flags ask for; a threshold out of range is a usage error. */
    QuantizeOptions applyTo(CommandLine cli, QuantizeOptions options) {
        double top1 = minTop1 != null ? minTop1 : options.minTop1();
        double kl = maxKl != null ? maxKl : options.maxKl();
        double cosine = minCosine != null ? minCosine : options.minCosine();
        if (!(top1 >= 0 && top1 <= 1) || !(kl >= 0) || !(cosine >= -1 && cosine <= 1)) {
            throw new CommandLine.ParameterException(cli,
                    "thresholds: --min-top1 in [0, 1], --max-kl >= 0, --min-cosine in [-1, 1]");
        }
        return options.withGate(!noGate).withEval(eval).withThresholds(top1, kl, cosine).withThreads(threads.count);
    }
}
