package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.util.CliNames;

/**
 * The quantized forms {@link Quantizer} writes, each with the gate thresholds it is held to by default: int8 dynamic
 * loses least; int8 static QDQ rounds the activations to calibrated 8-bit ranges too, so a little more is allowed;
 * int4 weight-only, whose four bits per weight move next-token distributions furthest, is allowed most.
 */
public enum QuantizeMode {
    /** int8 weights, activations quantized at run time (standard ops). */
    INT8(new Thresholds(0.98, 0.02, 0.995)),
    /** int4 weights in blocks ({@code com.microsoft.MatMulNBits}), activations in float. */
    INT4(new Thresholds(0.96, 0.05, 0.98)),
    /**
     * int8 static QDQ: activations uint8 over calibrated ranges, weights int8 per channel (standard
     * QuantizeLinear/DequantizeLinear, see {@link StaticQdqOptions}).
     */
    INT8_STATIC(new Thresholds(0.97, 0.05, 0.995));

    /**
     * The gate's default thresholds: for decoders the least next-token top-1 agreement and the largest mean KL
     * divergence of the next-token distributions, for encoders the least mean cosine of mean-pooled outputs.
     *
     * @param minTop1   decoders: least fraction of positions whose next token (argmax) is unchanged
     * @param maxKl     decoders: largest mean KL divergence of the next-token distributions, in nats
     * @param minCosine encoders: least mean cosine similarity of the mean-pooled, normalised outputs
     */
    public record Thresholds(double minTop1, double maxKl, double minCosine) {
    }

    private final Thresholds thresholds;

    QuantizeMode(Thresholds thresholds) {
        this.thresholds = thresholds;
    }

    /**
     * The gate's default thresholds for this mode.
     *
     * @return int8: top-1 0.98, KL 0.02, cosine 0.995; int4: 0.96, 0.05, 0.98; int8-static: 0.97, 0.05, 0.995
     */
    public Thresholds thresholds() {
        return thresholds;
    }

    /**
     * The mode's name on the command line.
     *
     * @return {@code int8}, {@code int4} or {@code int8-static}
     */
    public String cliName() {
        return CliNames.of(this);
    }

    /**
     * The mode a command line names.
     *
     * @param s {@code int8}, {@code int4} or {@code int8-static}
     * @return the mode
     * @throws IllegalArgumentException naming the choices, for any other name
     */
    public static QuantizeMode fromCliName(String s) {
        return CliNames.find(QuantizeMode.class, s).orElseThrow(() -> new IllegalArgumentException(
                "expected " + CliNames.choices(QuantizeMode.class) + ", got '" + s + "'"));
    }
}
