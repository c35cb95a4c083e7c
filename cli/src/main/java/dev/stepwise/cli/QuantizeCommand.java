package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.quantize.CalibrationMethod;
import dev.stepwise.runtime.quantize.Int4Scheme;
import dev.stepwise.runtime.quantize.Int8Scheme;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.quantize.StaticQdqOptions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize an ONNX file or folder (an export with its loop/search graphs, an unrolled step folder,",
            "an encoder) to int8 dynamic, int4 weight-only (MatMulNBits) or int8 static QDQ (calibrated), checked against the",
            "float model by a quality gate; weights shared between",
            "files stay shared in one quantized weights file. quantize-report.json is written with the output."})
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "FILE.onnx|DIR", description = "ONNX file or folder.")
    Path model;

    @Mixin
    OutputFolderOption output;

    @Option(names = "--mode", defaultValue = "int8", description = {"int8 (dynamic: int8 weights, activations quantized at"
            + " run time), int4 (weight-only blocks, com.microsoft.MatMulNBits)",
        "or int8-static (QDQ: activations calibrated ahead, uint8; weights int8 per channel)."})
    String mode;

    @Option(names = "--block-size", description = "int4: weights per block along K, a power of two from 16 to 256 (default 32).")
    Integer blockSize;

    @Option(names = "--accuracy-level", description = "int4: MatMulNBits accuracy_level, 0-4 (default 4: int8 activations, the fast CPU path).")
    Integer accuracyLevel;

    @Option(names = "--head-int4", description = "int4: the LM head in int4 blocks too (default: int8 dynamic, per channel;"
            + " an int4 head moves the next token most).")
    boolean headInt4;

    @Option(names = "--embedding-int4", description = "int4: also store embedding tables read by Gather as int4 blocks (GatherBlockQuantized).")
    boolean embeddingInt4;

    @Option(names = "--calibration", paramLabel = "FILE", description = "int8-static: calibration inputs, one prompt or one"
            + " row of token ids per line (default: a built-in set, apart from the gate's).")
    Path calibration;

    @Option(names = "--calibration-method", paramLabel = "minmax|percentile", description = "int8-static: activation"
            + " ranges from min/max (default) or a percentile of |x|.")
    String calibrationMethod;

    @Option(names = "--percentile", paramLabel = "P", description = "int8-static with percentile: share of |x| kept in"
            + " range, in (0, 100] (default 99.99).")
    Double percentile;

    @Option(names = "--per-tensor", description = "One scale per weight instead of one per output column.")
    boolean perTensor;

    @Option(names = "--asymmetric", description = "A zero point per column (int8: uint8 weights) or per block (int4) instead of symmetric weights.")
    boolean asymmetric;

    @Option(names = "--full-range", description = "int8, int8-static: 8-bit weights instead of the default 7, more precise"
            + " where nothing saturates (VNNI CPUs, NPUs); ONNX Runtime's u8 x s8 kernels on AVX2 without VNNI clip them.")
    boolean fullRange;

    @Option(names = "--keep-float", paramLabel = "REGEX", description = "Leave weights whose initializer or node name matches in float.")
    String keepFloat;

    @Option(names = "--embedding-int8", description = "Also quantize embedding tables read by Gather (int8 rows, one scale per row).")
    boolean embeddingInt8;

    @Option(names = "--smooth-alpha", paramLabel = "A", description = "int8, encoders: strength in [0, 1) of the"
            + " per-channel activation smoothing calibrated on a built-in set (default 0.7; 0 turns it off).")
    Double smoothAlpha;

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

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads for the gate (default: all cores).")
    int threads;

    @Override
    public Integer call() {
        QuantizeResult r = Quantizer.quantize(model, output.dir, options());
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
        refuseOtherModes(cli, m);
        options = switch (m) {
            case INT4 -> options.withInt4(int4Scheme(cli)).withEmbeddings(embeddingInt4);
            case INT8 -> smoothed(cli, options.withScheme(new Int8Scheme(!perTensor, !asymmetric, !fullRange))
                    .withEmbeddings(embeddingInt8));
            case INT8_STATIC -> options.withStatic(staticOptions(cli))
                    .withScheme(new Int8Scheme(true, true, !fullRange));
        };
        return options.withKeepFloat(keep).withGate(!noGate).withEval(eval).withThresholds(top1, kl, cosine)
                .withThreads(threads);
    }

    private QuantizeOptions smoothed(CommandLine cli, QuantizeOptions options) {
        try {
            return smoothAlpha == null ? options : options.withSmoothAlpha(smoothAlpha);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cli, "--smooth-alpha: " + e.getMessage());
        }
    }

    /** A flag that only some modes take, and whether it was given. */
    private record ModeFlag(String name, boolean given, EnumSet<QuantizeMode> modes) {
    }

    /** A flag given for a mode that has no use for it is a usage error naming the flag and the modes it is for. */
    private void refuseOtherModes(CommandLine cli, QuantizeMode m) {
        EnumSet<QuantizeMode> int4 = EnumSet.of(QuantizeMode.INT4);
        EnumSet<QuantizeMode> int8 = EnumSet.of(QuantizeMode.INT8);
        EnumSet<QuantizeMode> qdq = EnumSet.of(QuantizeMode.INT8_STATIC);
        for (ModeFlag f : List.of(new ModeFlag("--block-size", blockSize != null, int4),
                new ModeFlag("--accuracy-level", accuracyLevel != null, int4), new ModeFlag("--head-int4", headInt4, int4),
                new ModeFlag("--embedding-int4", embeddingInt4, int4), new ModeFlag("--per-tensor", perTensor, int8),
                new ModeFlag("--full-range", fullRange, EnumSet.of(QuantizeMode.INT8, QuantizeMode.INT8_STATIC)), new ModeFlag("--embedding-int8", embeddingInt8, int8),
                new ModeFlag("--smooth-alpha", smoothAlpha != null, int8),
                new ModeFlag("--asymmetric", asymmetric, EnumSet.of(QuantizeMode.INT8, QuantizeMode.INT4)),
                new ModeFlag("--calibration", calibration != null, qdq),
                new ModeFlag("--calibration-method", calibrationMethod != null, qdq),
                new ModeFlag("--percentile", percentile != null, qdq))) {
            if (f.given() && !f.modes().contains(m)) {
                throw new CommandLine.ParameterException(cli, f.name() + " is for --mode " + String.join(" or --mode ",
                        f.modes().stream().map(QuantizeMode::cliName).toList()) + ", not --mode " + m.cliName());
            }
        }
    }

    private Int4Scheme int4Scheme(CommandLine cli) {
        try {
            return new Int4Scheme(blockSize != null ? blockSize : Int4Scheme.DEFAULT.blockSize(), !asymmetric,
                    accuracyLevel != null ? accuracyLevel : Int4Scheme.DEFAULT.accuracyLevel(), headInt4);
        } catch (StepwiseException e) {
            throw new CommandLine.ParameterException(cli, (e.getMessage().contains("block size") ? "--block-size: "
                    : "--accuracy-level: ") + e.getMessage());
        }
    }

    /** int8-static's calibration: the inputs, the method, and the percentile only with the percentile method. */
    private StaticQdqOptions staticOptions(CommandLine cli) {
        CalibrationMethod method = calibrationMethod == null ? CalibrationMethod.MINMAX
                : CalibrationMethod.parse(calibrationMethod);
        if (method == null) {
            throw new CommandLine.ParameterException(cli, "--calibration-method: minmax or percentile, got '"
                    + calibrationMethod + "'");
        }
        if (percentile != null && method != CalibrationMethod.PERCENTILE) {
            throw new CommandLine.ParameterException(cli, "--percentile needs --calibration-method percentile");
        }
        double p = percentile != null ? percentile : StaticQdqOptions.DEFAULT_PERCENTILE;
        if (!(p > 0 && p <= 100)) {
            throw new CommandLine.ParameterException(cli, "--percentile: in (0, 100], got " + p);
        }
        return new StaticQdqOptions(calibration, method, p);
    }
}
