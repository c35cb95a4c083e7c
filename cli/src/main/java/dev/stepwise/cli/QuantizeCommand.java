package dev.stepwise.cli;

import dev.stepwise.runtime.quantize.Int8Scheme;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
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

    @Mixin
    Int4Flags int4;

    @Mixin
    CalibrationFlags calibration;

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

    @Mixin
    QualityGateFlags gate;

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

    /** The mode an option ({@code --mode}, {@code --quantize}) names, or a usage error naming the option. */
    static QuantizeMode mode(CommandLine cli, String option, String value) {
        return Usage.parsed(cli, option + ": ", () -> QuantizeMode.fromCliName(value));
    }

    /** The options the flags ask for; a bad flag is a usage error (exit 2) naming it. */
    QuantizeOptions options() {
        CommandLine cli = new CommandLine(this);
        QuantizeMode m = mode(cli, "--mode", mode);
        QuantizeOptions options = gate.applyTo(cli, QuantizeOptions.defaults(m));
        Pattern keep = keepFloat == null ? null : keepFloatPattern(cli);
        refuseOtherModes(cli, m);
        options = switch (m) {
            case INT4 -> options.withInt4(int4.scheme(cli, !asymmetric)).withEmbeddings(int4.embeddingInt4);
            case INT8 -> smoothed(cli, options.withScheme(new Int8Scheme(!perTensor, !asymmetric, !fullRange))
                    .withEmbeddings(embeddingInt8));
            case INT8_STATIC -> options.withStatic(calibration.options(cli))
                    .withScheme(new Int8Scheme(true, true, !fullRange));
        };
        return options.withKeepFloat(keep);
    }

    private Pattern keepFloatPattern(CommandLine cli) {
        try {
            return Pattern.compile(keepFloat);
        } catch (PatternSyntaxException e) {
            throw new CommandLine.ParameterException(cli, "--keep-float: " + e.getDescription() + " in '" + keepFloat + "'");
        }
    }

    private QuantizeOptions smoothed(CommandLine cli, QuantizeOptions options) {
        return smoothAlpha == null ? options
                : Usage.parsed(cli, "--smooth-alpha: ", () -> options.withSmoothAlpha(smoothAlpha));
    }

    /** A flag that only some modes take, and whether it was given. */
    private record ModeFlag(String name, boolean given, EnumSet<QuantizeMode> modes) {
    }

    /** A flag given for a mode that has no use for it is a usage error naming the flag and the modes it is for. */
    private void refuseOtherModes(CommandLine cli, QuantizeMode m) {
        EnumSet<QuantizeMode> int4Only = EnumSet.of(QuantizeMode.INT4);
        EnumSet<QuantizeMode> int8 = EnumSet.of(QuantizeMode.INT8);
        EnumSet<QuantizeMode> qdq = EnumSet.of(QuantizeMode.INT8_STATIC);
        for (ModeFlag f : List.of(new ModeFlag("--block-size", int4.blockSize != null, int4Only),
                new ModeFlag("--accuracy-level", int4.accuracyLevel != null, int4Only),
                new ModeFlag("--head-int4", int4.headInt4, int4Only),
                new ModeFlag("--embedding-int4", int4.embeddingInt4, int4Only), new ModeFlag("--per-tensor", perTensor, int8),
                new ModeFlag("--full-range", fullRange, EnumSet.of(QuantizeMode.INT8, QuantizeMode.INT8_STATIC)),
                new ModeFlag("--embedding-int8", embeddingInt8, int8),
                new ModeFlag("--smooth-alpha", smoothAlpha != null, int8),
                new ModeFlag("--asymmetric", asymmetric, EnumSet.of(QuantizeMode.INT8, QuantizeMode.INT4)),
                new ModeFlag("--calibration", calibration.inputs != null, qdq),
                new ModeFlag("--calibration-method", calibration.method != null, qdq),
                new ModeFlag("--percentile", calibration.percentile != null, qdq))) {
            if (f.given() && !f.modes().contains(m)) {
                throw new CommandLine.ParameterException(cli, f.name() + " is for --mode " + String.join(" or --mode ",
                        f.modes().stream().map(QuantizeMode::cliName).toList()) + ", not --mode " + m.cliName());
            }
        }
    }
}
