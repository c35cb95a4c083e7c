package dev.stepwise.runtime.quantize;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The calibrated range of every observed activation, by tensor name, over all calibration runs: for an unrolled
 * folder the observations of every step graph of a tensor name are pooled, so all steps get one range.
 *
 * <p>{@link CalibrationMethod#MINMAX}: the least and largest value seen, as ONNX Runtime's {@code MinMaxCalibrater}
 * (the min of the per-run minima and the max of the per-run maxima). {@link CalibrationMethod#PERCENTILE}: a histogram
 * of |x| (2048 bins, as ONNX Runtime's {@code HistogramCalibrater} for percentile; here the bins start at 0 and the
 * range doubles, merging bin pairs, when a larger value arrives, so no value is ever dropped) gives the threshold t
 * at which the cumulative share of |x| reaches the percentile (t is the upper edge of that bin), and the range is
 * {@code [max(min, -t), min(max, t)]}. That is ONNX Runtime's percentile with {@code CalibTensorRangeSymmetric}; its
 * default (asymmetric) variant takes both cut points from the histogram of |x|, so its lower bound is never negative
 * and, once {@code compute_scale_zp} widens it to include 0, every negative activation would be clipped to 0 —
 * unusable for the pre-activation MatMul inputs of a transformer, which are signed.
 */
final class ActivationRanges {
    static final int BINS = 2048;

    /** The calibration method and, for percentile, the share of |x| kept. */
    private final StaticQdqOptions calibration;
    private final Map<String, Observer> observers = new TreeMap<>();

    ActivationRanges(StaticQdqOptions calibration) {
        this.calibration = calibration;
    }

    private static final class Observer {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        long[] histogram;
        double width;
        long count;
    }

    /** Records one run's values of {@code name}. */
    synchronized void observe(String name, float[] values) {
        if (values.length == 0) {
            return;
        }
        Observer o = observers.computeIfAbsent(name, k -> new Observer());
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float v : values) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        o.min = Math.min(o.min, lo);
        o.max = Math.max(o.max, hi);
        if (calibration.method() != CalibrationMethod.PERCENTILE) {
            return;
        }
        double top = Math.max(Math.abs((double) lo), Math.abs((double) hi));
        if (o.histogram == null) {
            o.histogram = new long[BINS];
            o.width = top > 0 ? top / BINS : Float.MIN_NORMAL;
        }
        while (top > o.width * BINS) {
            long[] h = o.histogram;
            for (int i = 0; i < BINS / 2; i++) {
                h[i] = h[2 * i] + h[2 * i + 1];
            }
            java.util.Arrays.fill(h, BINS / 2, BINS, 0);
            o.width *= 2;
        }
        for (float v : values) {
            int bin = (int) Math.min(BINS - 1, Math.abs((double) v) / o.width);
            o.histogram[bin]++;
        }
        o.count += values.length;
    }

    Set<String> names() {
        return observers.keySet();
    }

    boolean has(String name) {
        return observers.containsKey(name);
    }

    /** The calibrated {@code [min, max]} of {@code name}. */
    float[] range(String name) {
        Observer o = observers.get(name);
        if (calibration.method() != CalibrationMethod.PERCENTILE) {
            return new float[] {o.min, o.max};
        }
        double want = calibration.percentile() / 100.0;
        long cumulative = 0;
        int bin = BINS - 1;
        for (int i = 0; i < BINS; i++) {
            cumulative += o.histogram[i];
            if ((double) cumulative / o.count >= want) {
                bin = i;
                break;
            }
        }
        float t = (float) ((bin + 1) * o.width);
        return new float[] {Math.max(o.min, -t), Math.min(o.max, t)};
    }

    /** The QuantizeLinear parameters of {@code name}. */
    ActivationQuant quant(String name) {
        float[] r = range(name);
        return ActivationQuant.of(r[0], r[1]);
    }

    int size() {
        return observers.size();
    }
}
