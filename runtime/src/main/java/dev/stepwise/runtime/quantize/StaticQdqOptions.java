package dev.stepwise.runtime.quantize;

import java.nio.file.Path;

/**
 * What {@code --mode int8-static} adds to {@link QuantizeOptions} ({@link QuantizeOptions#withStatic}; its gate
 * thresholds are {@link QuantizeMode#INT8_STATIC}'s): the calibration inputs (a file of prompts or
 * whitespace-separated id rows, one a line; null for the built-in set) and how their activations become ranges.
 *
 * @param percentile for {@link CalibrationMethod#PERCENTILE}: the share of |x| kept inside the range, in (0, 100]
 */
public record StaticQdqOptions(Path calibration, CalibrationMethod method, double percentile) {
    public static final double DEFAULT_PERCENTILE = 99.99;

    public static StaticQdqOptions defaults() {
        return new StaticQdqOptions(null, CalibrationMethod.MINMAX, DEFAULT_PERCENTILE);
    }

    public StaticQdqOptions withCalibration(Path file) {
        return new StaticQdqOptions(file, method, percentile);
    }

    public StaticQdqOptions withMethod(CalibrationMethod m, double p) {
        return new StaticQdqOptions(calibration, m, p);
    }

    /** A short name for reports: {@code minmax} or {@code percentile 99.99}. */
    public String describe() {
        return method == CalibrationMethod.MINMAX ? "minmax" : "percentile " + percentile;
    }
}
