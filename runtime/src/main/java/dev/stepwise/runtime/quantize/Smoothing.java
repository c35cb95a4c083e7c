package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Per-channel smoothing of the activations int8 dynamic quantizes (SmoothQuant, Xiao et al. 2023): for an activation
 * A read by MatMuls with weights W_i, {@code s_k = max|A_k|^α / max_i max_n |W_i[k, n]|^(1-α)} over the channels k of
 * A's last axis; the graph quantizes {@code A · diag(1/s)} (one {@code Mul} in front of its DynamicQuantizeLinear,
 * shared by all its MatMuls) and every {@code diag(s) · W_i}, which computes the same product.
 *
 * <p>Why: DynamicQuantizeLinear has one scale per tensor, and in BERT-like encoders a few channels of the LayerNorm
 * outputs carry values 3-5x the rest ("massive activations", mostly on [CLS] and [SEP]), so the 255 steps are spread
 * over a range most values never use. On all-MiniLM-L6-v2 the weights quantized alone keep cosine 0.9997 to the fp32
 * embeddings, the activations quantized alone 0.9936: the activation range is the whole error. Dividing the outlier
 * channels down and multiplying the matching weight rows up moves that range into the weights, which are quantized
 * per output column and absorb it. ONNX Runtime's {@code quantize_dynamic} has no such step.
 *
 * <p>A smoothed graph stores all its MatMul weights in 7 bits ({@code --reduce-range}, [-64, 64] symmetric): on AVX2
 * CPUs without VNNI the u8×s8 kernels add pairs of products into a saturating int16, and smoothing makes both sides
 * fuller, so full 8-bit weights saturate (all-MiniLM-L6-v2 on such a CPU: cosine 0.9949 smoothed with 8-bit int8
 * weights, 0.9958 with 7-bit). uint8 weights (u8×u8 kernels) never saturate and reach 0.9972, but those kernels run
 * the model 11% slower there, which would lose to Xenova's file on latency.
 *
 * <p>{@code max|A_k|} comes from running the float model on {@link CalibrationInputs} (apart from the gate's
 * evaluation set). Channels never seen, or whose weight rows are all zero, keep s = 1.
 */
final class Smoothing {
    /** Migration strength; on all-MiniLM-L6-v2 0.6-0.8 all reach cosine ≥ 0.997 in simulation, 0.5 does not. */
    static final double DEFAULT_ALPHA = 0.7;

    /**
     * Only activations whose channel ranges are uneven are smoothed: the largest channel max at least this many times
     * the mean one. On all-MiniLM-L6-v2 that picks the FFN inputs of layers 0-4 (13-17) and the GELU outputs of layers
     * 0-3 (12-21), and leaves the attention inputs (4-6) and contexts (2-5), where smoothing gains less than its
     * factors and Mul nodes cost (smoothing all 24 would not fit in Xenova's file size).
     */
    static final double MIN_UNEVENNESS = 8;

    private final Map<String, float[]> factors;
    private final boolean calibrated;

    private Smoothing(Map<String, float[]> factors, boolean calibrated) {
        this.factors = factors;
        this.calibrated = calibrated;
    }

    static Smoothing none() {
        return new Smoothing(Map.of(), false);
    }

    /** Whether the graph was calibrated for smoothing (then all its MatMul weights are stored in 7 bits). */
    boolean calibrated() {
        return calibrated;
    }

    /** s for activation {@code name} (one per channel of its last axis), or null when it is not smoothed. */
    float[] factors(String name) {
        return factors.get(name);
    }

    int size() {
        return factors.size();
    }

    /**
     * The factors for {@code model}: its main graph's quantized MatMul activations are observed on the calibration
     * rows (per-channel max |x|), their consumers' weights are read for their per-row max |w|.
     */
    static Smoothing calibrate(OnnxModelReader source, Path sourceDir, QuantizeOptions options, Path work) {
        Map<String, List<WeightRewriter.Match>> consumers =
                new DynamicInt8Rewriter(source, null, options.scheme(), options.keepFloat(), false, none()).consumers();
        Map<String, float[]> channelMax = Calibrator.channelAbsMax(source.file(), consumers.keySet(), sourceDir,
                CalibrationInputs.rows(null, sourceDir), options, work);
        Map<String, float[]> factors = new TreeMap<>();
        double alpha = options.smoothAlpha();
        for (Map.Entry<String, List<WeightRewriter.Match>> e : consumers.entrySet()) {
            float[] a = channelMax.get(e.getKey());
            if (a == null || unevenness(a) < MIN_UNEVENNESS) {
                continue;
            }
            float[] w = new float[a.length];
            boolean fits = true;
            for (WeightRewriter.Match m : e.getValue()) {
                fits &= rowMax(source, m, w);
            }
            if (!fits) {
                continue;
            }
            float[] s = new float[a.length];
            for (int k = 0; k < a.length; k++) {
                s[k] = a[k] > 0 && w[k] > 0
                        ? (float) (Math.pow(a[k], alpha) / Math.pow(w[k], 1 - alpha)) : 1f;
            }
            factors.put(e.getKey(), s);
        }
        return new Smoothing(factors, true);
    }

    /** The largest value over the mean one (0 for an all-zero activation). */
    static double unevenness(float[] channelMax) {
        double sum = 0;
        double max = 0;
        for (float v : channelMax) {
            sum += v;
            max = Math.max(max, v);
        }
        return sum > 0 ? max / (sum / channelMax.length) : 0;
    }

    /** Folds the per-input-row max |w| of {@code m}'s weight into {@code max}; false if K is not max's length. */
    private static boolean rowMax(OnnxModelReader source, WeightRewriter.Match m, float[] max) {
        long rows = m.tensor().getDims(0);
        long cols = m.tensor().getDims(1);
        long k = m.transposed() ? cols : rows;
        if (k != max.length) {
            return false;
        }
        InitializerBytes bytes = InitializerBytes.of(source, m.tensor());
        int bandRows = (int) Math.max(1, Math.min(rows, WeightQuantizer.BAND_BYTES / (4 * cols)));
        ByteBuffer band = ByteBuffer.allocateDirect(Math.toIntExact(bandRows * cols * 4)).order(ByteOrder.LITTLE_ENDIAN);
        for (long r0 = 0; r0 < rows; r0 += bandRows) {
            int n = (int) Math.min(bandRows, rows - r0);
            FloatBuffer f = WeightQuantizer.readBand(bytes, band, r0, n, cols);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < cols; j++) {
                    int kk = m.transposed() ? j : (int) (r0 + i);
                    max[kk] = Math.max(max[kk], Math.abs(f.get((int) (i * cols + j))));
                }
            }
        }
        return true;
    }

    /** The activations smoothed, for the report. */
    Set<String> names() {
        return factors.keySet();
    }
}
