package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * What {@link Quantizer} does: the weight scheme, weights kept in float, and the quality gate (evaluation inputs and
 * the thresholds below which nothing is written).
 *
 * @param keepFloat weights (initializer or node names, {@code find}) left in float; null for none
 * @param gate      whether to compare the quantized model with the float one and refuse it below the thresholds
 * @param eval      a file of evaluation inputs (one prompt, or one row of whitespace-separated token ids, per line);
 *                  null for the built-in set
 * @param minTop1   decoders: least fraction of positions whose next token (argmax) is unchanged
 * @param maxKl     decoders: largest mean KL divergence of the next-token distributions (nats)
 * @param minCosine encoders: least mean cosine similarity of the mean-pooled, normalised outputs
 * @param threads   ONNX Runtime threads for the gate (0: all cores)
 * @param embeddings whether embedding tables read by Gather become int8 rows with a scale per row
 */
public record QuantizeOptions(Int8Scheme scheme, Pattern keepFloat, boolean gate, Path eval, double minTop1,
                              double maxKl, double minCosine, int threads, boolean embeddings) {
    /** int8 dynamic thresholds: top-1 ≥ 0.98 and mean KL ≤ 0.02 for decoders, cosine ≥ 0.995 for encoders. */
    public static QuantizeOptions defaults() {
        return new QuantizeOptions(Int8Scheme.DEFAULT, null, true, null, 0.98, 0.02, 0.995, 0, false);
    }

    public QuantizeOptions withScheme(Int8Scheme s) {
        return new QuantizeOptions(s, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, embeddings);
    }

    public QuantizeOptions withKeepFloat(Pattern p) {
        return new QuantizeOptions(scheme, p, gate, eval, minTop1, maxKl, minCosine, threads, embeddings);
    }

    public QuantizeOptions withGate(boolean g) {
        return new QuantizeOptions(scheme, keepFloat, g, eval, minTop1, maxKl, minCosine, threads, embeddings);
    }

    public QuantizeOptions withEval(Path file) {
        return new QuantizeOptions(scheme, keepFloat, gate, file, minTop1, maxKl, minCosine, threads, embeddings);
    }

    public QuantizeOptions withThresholds(double top1, double kl, double cosine) {
        return new QuantizeOptions(scheme, keepFloat, gate, eval, top1, kl, cosine, threads, embeddings);
    }

    public QuantizeOptions withThreads(int n) {
        return new QuantizeOptions(scheme, keepFloat, gate, eval, minTop1, maxKl, minCosine, n, embeddings);
    }

    public QuantizeOptions withEmbeddings(boolean e) {
        return new QuantizeOptions(scheme, keepFloat, gate, eval, minTop1, maxKl, minCosine, threads, e);
    }
}
