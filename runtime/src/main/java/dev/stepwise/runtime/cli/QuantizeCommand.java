package dev.stepwise.runtime.cli;

import dev.stepwise.runtime.quantize.CalibrationMethod;
import dev.stepwise.runtime.quantize.Int8Scheme;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.quantize.StaticQdqOptions;
import dev.stepwise.runtime.quantize.QualityFigures;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize an ONNX file or folder (an export with its loop/search graphs, an unrolled step folder,",
            "an encoder) to int8 dynamic or int8 static QDQ, checked against the float model by a quality gate; weights shared between",
            "files stay shared in one quantized weights file. quantize-report.json is written with the output."})
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "FILE.onnx|DIR", description = "ONNX file or folder.")
    Path model;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder to write (replaced on success).")
    Path output;

    @Option(names = "--mode", defaultValue = "int8", description = {"int8 (dynamic: int8 weights, activations quantized at run time)",
        "or int8-static (QDQ: activations calibrated ahead, uint8; weights int8 per channel)."})
    String mode;

    @Option(names = "--calibration", paramLabel = "FILE", description = "int8-static: calibration inputs, one prompt or one row of token ids per line (default: a built-in set).")
    Path calibration;

    @Option(names = "--calibration-method", paramLabel = "minmax|percentile", description = "int8-static: activation ranges from min/max (default) or a percentile of |x|.")
    String calibrationMethod;

    @Option(names = "--percentile", paramLabel = "P", description = "int8-static with percentile: share of |x| kept in range, in (0, 100] (default 99.99).")
    Double percentile;

    @Option(names = "--per-tensor", description = "One scale per weight instead of one per output column.")
    boolean perTensor;

    @Option(names = "--asymmetric", description = "Unsigned uint8 weights with a zero point instead of signed symmetric int8.")
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

    @Option(names = "--min-top1", description = "Decoders: least next-token top-1 agreement (default 0.98; int8-static 0.97).")
    Double minTop1;

    @Option(names = "--max-kl", description = "Decoders: largest mean KL divergence of next-token distributions (default 0.02; int8-static 0.05).")
    Double maxKl;

    @Option(names = "--min-cosine", defaultValue = "0.995", description = "Encoders: least mean cosine of mean-pooled outputs (default 0.995).")
    double minCosine;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads for the gate (default: all cores).")
    int threads;

    @Override
    public Integer call() {
        if (!mode.equals("int8") && !mode.equals("int8-static")) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--mode: int8 or int8-static, got '" + mode + "'");
        }
        StaticQdqOptions qdq = mode.equals("int8-static") ? staticOptions() : null;
        if (qdq == null && (calibration != null || calibrationMethod != null || percentile != null)) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--calibration, --calibration-method and --percentile need --mode int8-static");
        }
        double minTop1 = this.minTop1 != null ? this.minTop1 : qdq != null ? StaticQdqOptions.MIN_TOP1 : 0.98;
        double maxKl = this.maxKl != null ? this.maxKl : qdq != null ? StaticQdqOptions.MAX_KL : 0.02;
        if (!(minTop1 >= 0 && minTop1 <= 1) || !(maxKl >= 0) || !(minCosine >= -1 && minCosine <= 1)) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "thresholds: --min-top1 in [0, 1], --max-kl >= 0, --min-cosine in [-1, 1]");
        }
        Pattern keep = null;
        if (keepFloat != null) {
            try {
                keep = Pattern.compile(keepFloat);
            } catch (PatternSyntaxException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--keep-float: " + e.getDescription()
                        + " in '" + keepFloat + "'");
            }
        }
        QuantizeOptions options = QuantizeOptions.defaults()
                .withScheme(new Int8Scheme(!perTensor, !asymmetric, reduceRange)).withKeepFloat(keep)
                .withGate(!noGate).withEval(eval).withThresholds(minTop1, maxKl, minCosine).withThreads(threads)
                .withEmbeddings(embeddingInt8);
        QuantizeResult r = Quantizer.quantize(model, output, options, qdq);
        for (QualityFigures f : r.quality()) {
            System.out.println(f.summary());
        }
        System.out.printf(Locale.ROOT, "quantized  %s: %s; %.1f MB -> %.1f MB in %.1f s%n", r.outputDir(),
                r.quantizedNodes(), r.bytesBefore() / 1e6, r.bytesAfter() / 1e6, r.seconds());
        System.out.println(r.outputDir());
        return 0;
    }

    /** The int8-static options; flags of the dynamic weight scheme have no meaning there and are refused. */
    private StaticQdqOptions staticOptions() {
        if (perTensor || asymmetric || reduceRange || embeddingInt8) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--mode int8-static has int8 symmetric"
                    + " per-channel weights and uint8 activations; --per-tensor, --asymmetric, --reduce-range and"
                    + " --embedding-int8 are for --mode int8");
        }
        CalibrationMethod method = calibrationMethod == null ? CalibrationMethod.MINMAX : CalibrationMethod.parse(calibrationMethod);
        if (method == null) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--calibration-method: minmax or percentile, got '"
                    + calibrationMethod + "'");
        }
        double p = percentile != null ? percentile : StaticQdqOptions.DEFAULT_PERCENTILE;
        if (percentile != null && method != CalibrationMethod.PERCENTILE) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--percentile needs --calibration-method percentile");
        }
        if (!(p > 0 && p <= 100)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--percentile: in (0, 100], got " + p);
        }
        return new StaticQdqOptions(calibration, method, p);
    }
}
