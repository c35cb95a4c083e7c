package dev.stepwise.cli;

import dev.stepwise.runtime.quantize.CalibrationMethod;
import dev.stepwise.runtime.quantize.StaticQdqOptions;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** quantize's int8-static flags: the calibration inputs and how activation ranges are taken from them. */
final class CalibrationFlags {
    @Option(names = "--calibration", paramLabel = "FILE", description = "int8-static: calibration inputs, one prompt or one"
            + " row of token ids per line (default: a built-in set, apart from the gate's).")
    Path inputs;

    @Option(names = "--calibration-method", paramLabel = "minmax|percentile", description = "int8-static: activation"
            + " ranges from min/max (default) or a percentile of |x|.")
    String method;

    @Option(names = "--percentile", paramLabel = "P", description = "int8-static with percentile: share of |x| kept in"
            + " range, in (0, 100] (default 99.99).")
    Double percentile;

    /** The calibration: the inputs, the method, and the percentile only with the percentile method. */
    StaticQdqOptions options(CommandLine cli) {
        CalibrationMethod m = method == null ? CalibrationMethod.MINMAX : CalibrationMethod.parse(method);
        if (m == null) {
            throw new CommandLine.ParameterException(cli, "--calibration-method: minmax or percentile, got '" + method + "'");
        }
        if (percentile != null && m != CalibrationMethod.PERCENTILE) {
            throw new CommandLine.ParameterException(cli, "--percentile needs --calibration-method percentile");
        }
        double p = percentile != null ? percentile : StaticQdqOptions.DEFAULT_PERCENTILE;
        if (!(p > 0 && p <= 100)) {
            throw new CommandLine.ParameterException(cli, "--percentile: in (0, 100], got " + p);
        }
        return new StaticQdqOptions(inputs, m, p);
    }
}
