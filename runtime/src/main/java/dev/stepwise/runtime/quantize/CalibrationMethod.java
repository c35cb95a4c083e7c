package dev.stepwise.runtime.quantize;

/**
 * How calibration turns the observed activations into a range: {@code MINMAX} takes the least and largest value seen
 * over every calibration run (ONNX Runtime's {@code CalibrationMethod.MinMax}); {@code PERCENTILE} clips the range to
 * the given percentile of |x| (ONNX Runtime's {@code CalibrationMethod.Percentile}, see {@link ActivationRanges}).
 */
public enum CalibrationMethod {
    MINMAX, PERCENTILE;

    /** {@code minmax} or {@code percentile}, as the command line spells it; null for anything else. */
    public static CalibrationMethod parse(String s) {
        return switch (s) {
            case "minmax" -> MINMAX;
            case "percentile" -> PERCENTILE;
            default -> null;
        };
    }

    public String cliName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
