package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.util.CliNames;

/**
 * How calibration turns the observed activations into a range: {@code MINMAX} takes the least and largest value seen
 * over every calibration run (ONNX Runtime's {@code CalibrationMethod.MinMax}); {@code PERCENTILE} clips the range to
 * the given percentile of |x| (ONNX Runtime's {@code CalibrationMethod.Percentile}, see {@link ActivationRanges}).
 */
public enum CalibrationMethod {
    /** The least and largest value seen over every calibration run. */
    MINMAX,
    /** The range clipped to a percentile of |x| ({@link StaticQdqOptions#percentile()}). */
    PERCENTILE;

    /**
     * The method a command line names.
     *
     * @param s {@code minmax} or {@code percentile}
     * @return the method, or null for any other name
     */
    public static CalibrationMethod parse(String s) {
        return CliNames.find(CalibrationMethod.class, s).orElse(null);
    }

    /**
     * The method's name on the command line.
     *
     * @return {@code minmax} or {@code percentile}
     */
    public String cliName() {
        return CliNames.of(this);
    }
}
