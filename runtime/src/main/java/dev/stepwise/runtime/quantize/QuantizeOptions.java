package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * How to quantize ({@link dev.stepwise.runtime.Stepwise#quantize}): the mode and its weight scheme, weights kept in
 * float, and the quality gate (evaluation inputs and the thresholds below which nothing is written). Start from
 * {@link #defaults(QuantizeMode)} and change what differs with the {@code with...} methods, each of which returns a
 * new value (as {@link dev.stepwise.runtime.export.ExportOptions} does):
 *
 * <pre>{@code
 * QuantizeOptions int4 = QuantizeOptions.defaults(QuantizeMode.INT4)
 *         .withInt4(new Int4Scheme(64, true, 4, false))     // blocks of 64, int8 head
 *         .withKeepFloat(Pattern.compile("lm_head"));       // leave the head in float
 * }</pre>
 *
 * @param mode       int8 dynamic, int4 weight-only or int8 static QDQ
 * @param scheme     int8: how the weights are formed
 * @param int4       int4: block size, symmetry, accuracy level
 * @param keepFloat  weights left in float: initializers or nodes whose name the pattern finds
 *                   ({@link java.util.regex.Matcher#find()}); null for none
 * @param gate       whether to compare the quantized model with the float one and refuse it below the thresholds
 * @param eval       a file of evaluation inputs (one prompt, or one row of whitespace-separated token ids, per line);
 *                   null for the built-in set
 * @param minTop1    decoders: least fraction of positions whose next token (argmax) is unchanged
 * @param maxKl      decoders: largest mean KL divergence of the next-token distributions (nats)
 * @param minCosine  encoders: least mean cosine similarity of the mean-pooled, normalised outputs
 * @param threads    ONNX Runtime intra-op threads for the gate (0: one per core)
 * @param embeddings whether embedding tables read by Gather are quantized too (int8 rows with a scale per hidden
 *                   column; int4 blocks for GatherBlockQuantized)
 * @param qdq        int8-static: the calibration inputs and how they become activation ranges
 * @param smoothAlpha int8, encoders: the migration strength α of activation smoothing (0: none; 0.7 by default)
 */
public record QuantizeOptions(QuantizeMode mode, Int8Scheme scheme, Int4Scheme int4, Pattern keepFloat, boolean gate,
                              Path eval, double minTop1, double maxKl, double minCosine, int threads,
                              boolean embeddings, StaticQdqOptions qdq, double smoothAlpha) {
    /**
     * int8 dynamic with its default scheme (per-channel symmetric int8) and thresholds: top-1 agreement at least 0.98
     * and mean KL at most 0.02 nats for decoders, mean cosine at least 0.995 for encoders; gate on, built-in
     * evaluation inputs, embeddings left in float.
     *
     * @return the default options
     */
    public static QuantizeOptions defaults() {
        return defaults(QuantizeMode.INT8);
    }

    /**
     * {@code mode} with its default scheme and its thresholds ({@link QuantizeMode#thresholds()}); gate on, built-in
     * evaluation inputs, embeddings left in float.
     *
     * @param mode int8 dynamic, int4 weight-only or int8 static QDQ
     * @return the default options of that mode
     */
    public static QuantizeOptions defaults(QuantizeMode mode) {
        QuantizeMode.Thresholds t = mode.thresholds();
        return new QuantizeOptions(mode, Int8Scheme.DEFAULT, Int4Scheme.DEFAULT, null, true, null, t.minTop1(),
                t.maxKl(), t.minCosine(), 0, false, StaticQdqOptions.defaults(),
                Smoothing.DEFAULT_ALPHA);
    }

    /**
     * Sets how int8 weights are formed (int8 and int8-static modes).
     *
     * @param s the int8 scheme; {@link Int8Scheme#DEFAULT} is per-channel symmetric
     * @return these options with the scheme changed
     */
    public QuantizeOptions withScheme(Int8Scheme s) {
        return new QuantizeOptions(mode, s, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    /**
     * Sets how int4 weights are formed (int4 mode).
     *
     * @param s the int4 scheme; {@link Int4Scheme#DEFAULT} is blocks of 32, symmetric, accuracy level 4, int8 head
     * @return these options with the scheme changed
     */
    public QuantizeOptions withInt4(Int4Scheme s) {
        return new QuantizeOptions(mode, scheme, s, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    /**
     * Leaves some weights in float.
     *
     * @param p found ({@link java.util.regex.Matcher#find()}) in the initializer or node names to keep; null for none
     * @return these options with the pattern changed
     */
    public QuantizeOptions withKeepFloat(Pattern p) {
        return new QuantizeOptions(mode, scheme, int4, p, gate, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    /**
     * Turns the quality gate on or off. Without it the quantized model is written however far it drifts from the float
     * one.
     *
     * @param g whether to gate (on by default)
     * @return these options with the gate turned on or off
     */
    public QuantizeOptions withGate(boolean g) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, g, eval, minTop1, maxKl, minCosine, threads, embeddings, qdq, smoothAlpha);
    }

    /**
     * Sets the gate's evaluation inputs.
     *
     * @param file a text file of one prompt, or one row of whitespace-separated token ids, per line; null for the
     *             built-in set
     * @return these options with the inputs changed
     */
    public QuantizeOptions withEval(Path file) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, file, minTop1, maxKl, minCosine, threads,
                embeddings, qdq, smoothAlpha);
    }

    /**
     * Sets the gate's thresholds, below which nothing is written.
     *
     * @param top1   decoders: least fraction (0 to 1) of positions whose next token is unchanged
     * @param kl     decoders: largest mean KL divergence of the next-token distributions, in nats
     * @param cosine encoders: least mean cosine similarity of the pooled outputs (up to 1)
     * @return these options with the thresholds changed
     */
    public QuantizeOptions withThresholds(double top1, double kl, double cosine) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, top1, kl, cosine, threads, embeddings, qdq, smoothAlpha);
    }

    /**
     * Sets the gate's ONNX Runtime threads.
     *
     * @param n intra-op threads per session; 0 for one per core
     * @return these options with the thread count changed
     */
    public QuantizeOptions withThreads(int n) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, n, embeddings, qdq, smoothAlpha);
    }

    /**
     * Quantizes the embedding tables read by Gather too (off by default): int8 rows with a scale per hidden column, or
     * int4 blocks for {@code GatherBlockQuantized}.
     *
     * @param e whether to quantize embedding tables
     * @return these options with the setting changed
     */
    public QuantizeOptions withEmbeddings(boolean e) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, e, qdq, smoothAlpha);
    }

    /**
     * Sets the calibration of int8 static QDQ (int8-static mode).
     *
     * @param q the calibration inputs and method; {@link StaticQdqOptions#defaults()} for the built-in inputs, min-max
     * @return these options with the calibration changed
     */
    public QuantizeOptions withStatic(StaticQdqOptions q) {
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads,
                embeddings, q, smoothAlpha);
    }

    /**
     * int8, encoders: how strongly activation outliers are moved into the weights before quantizing (SmoothQuant's
     * migration strength α; 0.7 by default).
     *
     * @param alpha in [0, 1); 0 turns smoothing off
     * @return these options with that strength
     * @throws IllegalArgumentException when alpha is outside [0, 1)
     */
    public QuantizeOptions withSmoothAlpha(double alpha) {
        if (!(alpha >= 0 && alpha < 1)) {
            throw new IllegalArgumentException("smoothing alpha " + alpha + " is not in [0, 1)");
        }
        return new QuantizeOptions(mode, scheme, int4, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads,
                embeddings, qdq, alpha);
    }

    /**
     * The weight scheme in a few words, for reports.
     *
     * @return for example {@code per-channel symmetric int8} or {@code block 32 symmetric int4, accuracy level 4, int8
     *         head}
     */
    public String describe() {
        return switch (mode) {
            case INT8 -> scheme.describe();
            case INT4 -> int4.describe();
            case INT8_STATIC -> StaticQdqRewriter.SCHEME + ", " + qdq.describe() + " calibration";
        };
    }
}
