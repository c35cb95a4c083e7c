package dev.stepwise.runtime.quantize;

import java.util.Locale;

/**
 * The quantized forms {@link Quantizer} writes, each with the gate thresholds it is held to by default: int8 dynamic
 * loses less than int4 weight-only, whose four bits per weight move next-token distributions further.
 */
public enum QuantizeMode {
    /** int8 weights, activations quantized at run time (standard ops). */
    INT8(0.98, 0.02, 0.995),
    /** int4 weights in blocks ({@code com.microsoft.MatMulNBits}), activations in float. */
    INT4(0.96, 0.05, 0.98);

    /** Decoders: least next-token top-1 agreement. */
    public final double minTop1;
    /** Decoders: largest mean KL divergence of the next-token distributions. */
    public final double maxKl;
    /** Encoders: least mean cosine similarity of mean-pooled outputs. */
    public final double minCosine;

    QuantizeMode(double minTop1, double maxKl, double minCosine) {
        this.minTop1 = minTop1;
        this.maxKl = maxKl;
        this.minCosine = minCosine;
    }

    /** {@code int8} or {@code int4}, as the command line spells them. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode a command line names; {@code IllegalArgumentException} naming the choices otherwise. */
    public static QuantizeMode fromCliName(String s) {
        for (QuantizeMode m : values()) {
            if (m.cliName().equals(s)) {
                return m;
            }
        }
        throw new IllegalArgumentException("expected int8 or int4, got '" + s + "'");
    }
}
