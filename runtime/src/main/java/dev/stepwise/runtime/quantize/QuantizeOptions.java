package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * What {@link Quantizer} does: the mode and its weight scheme, weights kept in float, and the quality gate (evaluation
 * inputs and the thresholds below which nothing is written).
 *
 * @param mode       int8 dynamic, int4 weight-only or int8 static QDQ
 * @param scheme     int8: how the weights are formed
 * @param int4       int4: block size, symmetry, accuracy level
 * @param keepFloat  weights (initializer or node names, {@code find}) left in float; null for none
 * @param gate       whether to compare the quantized model with the float one and refuse it below the thresholds
 * @param eval       a file of evaluation inputs (one prompt, or one row of whitespace-separated token ids, per line);
 *                   null for the built-in set
 * @param minTop1    decoders: least fraction of positions whose next token (argmax) is unchanged
 * @param maxKl      decoders: largest mean KL divergence of the next-token distributions (nats)
 * @param minCosine  encoders: least mean cosine similarity of the mean-pooled, normalised outputs
 * @param threads    ONNX Runtime threads for the gate (0: all cores)
 * @param embeddings whether embedding tables read by Gather are quantized too (int8 rows with a scale per hidden
 *                   column; int4 blocks for GatherBlockQuantized)
 * @param qdq        int8-static: the calibration inputs and how they become activation ranges
 * @param smoothAlpha int8, encoders: the migration strength α of {@link Smoothing} (0: no smoothing)
 */
public record QuantizeOptions(QuantizeMode mode, Int8Scheme scheme, Int4Scheme int4, Pattern keepFloat, boolean gate,
                              Path eval, double minTop1, double maxKl, double minCosine, int threads,
                              boolean embeddings, StaticQdqOptions qdq, double smoothAlpha) {
    /** int8 dynamic with its thresholds: top-1 ≥ 0.98 and mean KL ≤ 0.02 for decoders, cosine ≥ 0.995 for encoders. */
    public static QuantizeOptions defaults() {
        return defaults(QuantizeMode.INT8);
    }

    /** {@code mode} with its default scheme and thresholds ({@link QuantizeMode}). */
    public static QuantizeOptions defaults(QuantizeMode mode) {
        QuantizeMode.Thresholds t = mode.thresholds();
        return new QuantizeOptions(mode, Int8Scheme.DEFAULT, Int4Scheme.DEFAULT, null, true, null, t.minTop1(),
                t.maxKl(), t.minCosine(), 0, false, StaticQdqOptions.defaults(),
                Smoothing.DEFAULT_ALPHA);
    }

    public QuantizeOptions withScheme(Int8Scheme s) {
        return new QuantizeOptions(mode, s, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withInt4(Int4Scheme s) {
        return new QuantizeOptions(mode, scheme, s, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withKeepFloat(Pattern p) {
        return new QuantizeOptions(mode, scheme, int4, p, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withGate(boolean g) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, g, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withEval(Path file) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, file, minTop1, maxKl, minCosine, threads,
                embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withThresholds(double top1, double kl, double cosine) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, top1, kl, cosine, threads, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withThreads(int n) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, n, embeddings, qdq, smoothAlpha);
    }

    public QuantizeOptions withEmbeddings(boolean e) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, e, qdq, smoothAlpha);
    }

    public QuantizeOptions withStatic(StaticQdqOptions q) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads,
                embeddings, q, smoothAlpha);
    }

    public QuantizeOptions withSmoothAlpha(double alpha) {
        if (!(alpha >= 0 && alpha < 1)) {
            throw new IllegalArgumentException("smoothing alpha " + alpha + " is not in [0, 1)");
        }
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads,
                embeddings, qdq, alpha);
    }

    /** The weight scheme in a few words, for reports. */
    public String describe() {
        return switch (mode) {
            case INT8 -> scheme.describe();
            case INT4 -> int4.describe();
            case INT8_STATIC -> StaticQdqRewriter.SCHEME + ", " + qdq.describe() + " calibration";
        };
    }
}
