package dev.stepwise.runtime.quantize;

import java.nio.file.Path;

/**
 * What {@code --mode int8-static} adds to {@link QuantizeOptions} ({@link QuantizeOptions#withStatic}; its gate
 * thresholds are {@link QuantizeMode#INT8_STATIC}'s): the calibration inputs (a file of prompts or
 * whitespace-separated id rows, one a line; null for the built-in set) and how their activations become ranges.
 *
 * @param calibration a text file of one prompt, or one row of whitespace-separated token ids, per line; null for
 *                    the built-in set
 * @param method      how the observed activations become a range
 * @param percentile  for {@link CalibrationMethod#PERCENTILE}: the share of |x| kept inside the range, in percent,
 *                    in (0, 100]
 */
public record StaticQdqOptions(Path calibration, CalibrationMethod method, double percentile) {
    /** The percentile used when none is given: 99.99 (keeps all but the most extreme 0.01 % of |x|). */
    public static final double DEFAULT_PERCENTILE = 99.99;

    /**
     * The built-in calibration inputs, min-max ranges.
     *
     * @return the default calibration
     */
    public static StaticQdqOptions defaults() {
        return new StaticQdqOptions(null, CalibrationMethod.MINMAX, DEFAULT_PERCENTILE);
    }

    /**
     * Sets the calibration inputs.
     *
     * @param file a text file of one prompt, or one row of token ids, per line; null for the built-in set
     * @return this calibration with its inputs changed
     */
    public StaticQdqOptions withCalibration(Path file) {
        return new StaticQdqOptions(file, method, percentile);
    }

    /**
     * Sets how activations become ranges.
     *
     * @param m the method
     * @param p the percentile, for {@link CalibrationMethod#PERCENTILE} (kept but unused for min-max)
     * @return this calibration with its method changed
     */
    public StaticQdqOptions withMethod(CalibrationMethod m, double p) {
        return new StaticQdqOptions(calibration, m, p);
    }

    /**
     * A short name for reports.
     *
     * @return {@code minmax} or, for example, {@code percentile 99.99}
     */
    public String describe() {
        return method == CalibrationMethod.MINMAX ? "minmax" : "percentile " + percentile;
    }
}
