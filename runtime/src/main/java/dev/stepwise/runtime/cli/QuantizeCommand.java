package dev.stepwise.runtime.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.quantize.Int4Scheme;
import dev.stepwise.runtime.quantize.Int8Scheme;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.quantize.QualityFigures;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize an ONNX file or folder (an export with its loop/search graphs, an unrolled step folder,",
            "an encoder) to int8 dynamic or int4 weight-only (MatMulNBits), checked against the float model by a quality gate; weights shared between",
            "files stay shared in one quantized weights file. quantize-report.json is written with the output."})
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "FILE.onnx|DIR", description = "ONNX file or folder.")
    Path model;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder to write (replaced on success).")
    Path output;

    @Option(names = "--mode", defaultValue = "int8", description = "int8 (dynamic: int8 weights, activations quantized at"
            + " run time) or int4 (weight-only blocks, com.microsoft.MatMulNBits).")
    String mode;

    @Option(names = "--block-size", defaultValue = "32", description = "int4: weights per block along K, a power of two from 16 to 256 (default 32).")
    int blockSize;

    @Option(names = "--accuracy-level", defaultValue = "4", description = "int4: MatMulNBits accuracy_level, 0-4 (default 4: int8 activations, the fast CPU path).")
    int accuracyLevel;

    @Option(names = "--head-int4", description = "int4: the LM head in int4 blocks too (default: int8 dynamic, per channel;"
            + " an int4 head moves the next token most).")
    boolean headInt4;

    @Option(names = "--embedding-int4", description = "int4: also store embedding tables read by Gather as int4 blocks (GatherBlockQuantized).")
    boolean embeddingInt4;

    @Option(names = "--per-tensor", description = "One scale per weight instead of one per output column.")
    boolean perTensor;

    @Option(names = "--asymmetric", description = "A zero point per column (int8: uint8 weights) or per block (int4) instead of symmetric weights.")
    boolean asymmetric;

    @Option(names = "--reduce-range", description = "7-bit weights, for AVX2 CPUs without VNNI, whose u8 x s8 kernels can saturate.")
    boolean reduceRange;

    @Option(names = "--keep-float", paramLabel = "REGEX", description = "Leave weights whose initializer or node name matches in float.")
    String keepFloat;

    @Option(names = "--embedding-int8", description = "Also quantize embedding tables read by Gather (int8 rows, one scale per row).")
    boolean embeddingInt8;

    @Option(names = "--no-gate", description = "Skip the comparison with the float model (graphs are still loaded in ONNX Runtime).")
    boolean noGate;

    @Option(names = "--eval", paramLabel = "FILE", description = "Evaluation inputs: one prompt or one row of token ids per line (default: a built-in set).")
    Path eval;

    @Option(names = "--min-top1", description = "Decoders: least next-token top-1 agreement (default 0.98 int8, 0.96 int4).")
    Double minTop1;

    @Option(names = "--max-kl", description = "Decoders: largest mean KL divergence of next-token distributions (default 0.02 int8, 0.05 int4).")
    Double maxKl;

    @Option(names = "--min-cosine", description = "Encoders: least mean cosine of mean-pooled outputs (default 0.995 int8, 0.98 int4).")
    Double minCosine;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads for the gate (default: all cores).")
    int threads;

    @Override
    public Integer call() {
        QuantizeResult r = Quantizer.quantize(model, output, options());
        printSummary(r, System.out);
        System.out.println(r.outputDir());
        return 0;
    }

    /** The gate's figures per file and a line of sizes. */
    static void printSummary(QuantizeResult r, PrintStream out) {
        for (QualityFigures f : r.quality()) {
            out.println(f.summary());
        }
        out.printf(Locale.ROOT, "quantized  %s: %s; %.1f MB -> %.1f MB in %.1f s%n", r.outputDir(),
                r.quantizedNodes(), r.bytesBefore() / 1e6, r.bytesAfter() / 1e6, r.seconds());
    }

    /**
     * {@code export --quantize} and {@code unroll --quantize}: {@code writeFloat} writes the float folder, which is
     * then quantized into {@code output} with the mode's defaults ({@link Quantizer#quantizeWritten}); the figures go
     * to stderr, the folder to stdout.
     */
    static int quantizeLast(Path output, QuantizeMode mode, Consumer<Path> writeFloat) {
        QuantizeResult q = Quantizer.quantizeWritten(output, QuantizeOptions.defaults(mode), writeFloat);
        printSummary(q, System.err);
        System.out.println(q.outputDir());
        return 0;
    }

    /** The mode an option ({@code --mode}, {@code --quantize}) names, or a usage error naming the option. */
    static QuantizeMode mode(CommandLine cli, String option, String value) {
        try {
            return QuantizeMode.fromCliName(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cli, option + ": " + e.getMessage());
        }
    }

    /** The options the flags ask for; a bad flag is a usage error (exit 2) naming it. */
    QuantizeOptions options() {
        CommandLine cli = new CommandLine(this);
        QuantizeMode m = mode(cli, "--mode", mode);
        QuantizeOptions options = QuantizeOptions.defaults(m);
        double top1 = minTop1 != null ? minTop1 : options.minTop1();
        double kl = maxKl != null ? maxKl : options.maxKl();
        double cosine = minCosine != null ? minCosine : options.minCosine();
        if (!(top1 >= 0 && top1 <= 1) || !(kl >= 0) || !(cosine >= -1 && cosine <= 1)) {
            throw new CommandLine.ParameterException(cli,
                    "thresholds: --min-top1 in [0, 1], --max-kl >= 0, --min-cosine in [-1, 1]");
        }
        Pattern keep = null;
        if (keepFloat != null) {
            try {
                keep = Pattern.compile(keepFloat);
            } catch (PatternSyntaxException e) {
                throw new CommandLine.ParameterException(cli, "--keep-float: " + e.getDescription()
                        + " in '" + keepFloat + "'");
            }
        }
        if (m == QuantizeMode.INT4) {
            String int8Only = perTensor ? "--per-tensor" : reduceRange ? "--reduce-range"
                    : embeddingInt8 ? "--embedding-int8" : null;
            if (int8Only != null) {
                throw new CommandLine.ParameterException(cli, int8Only + " is an int8 option; int4 has blocks"
                        + " (--block-size) and --embedding-int4");
            }
            try {
                options = options.withInt4(new Int4Scheme(blockSize, !asymmetric, accuracyLevel, headInt4))
                        .withEmbeddings(embeddingInt4);
            } catch (StepwiseException e) {
                throw new CommandLine.ParameterException(cli, (e.getMessage().contains("block size") ? "--block-size: "
                        : "--accuracy-level: ") + e.getMessage());
            }
        } else {
            if (embeddingInt4) {
                throw new CommandLine.ParameterException(cli, "--embedding-int4 is an int4 option; int8 has --embedding-int8");
            }
            options = options.withScheme(new Int8Scheme(!perTensor, !asymmetric, reduceRange)).withEmbeddings(embeddingInt8);
        }
        return options.withKeepFloat(keep).withGate(!noGate).withEval(eval).withThresholds(top1, kl, cosine)
                .withThreads(threads);
    }
}
