package dev.stepwise.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bandwidth floor's figure: the median time of the fastest way ONNX Runtime found to read {@code bytesRead}
 * once ({@code method}), over {@code samples} reads; the other methods' medians are kept for the record.
 */
public record FloorResult(double medianMillis, String method, long bytesRead, int samples,
                          Map<String, Double> medianMillisByMethod) {

    /** Picks the fastest method; {@code nanos[m]} are the reads of {@code BandwidthFloor.Method.values()[m]}. */
    static FloorResult fastest(long[][] nanos, long bytesRead) {
        Map<String, Double> medians = new LinkedHashMap<>();
        String best = null;
        double bestMillis = Double.POSITIVE_INFINITY;
        for (int m = 0; m < nanos.length; m++) {
            String label = BandwidthFloor.Method.values()[m].label();
            double median = Median.millis(nanos[m]);
            medians.put(label, median);
            if (median < bestMillis) {
                bestMillis = median;
                best = label;
            }
        }
        return new FloorResult(bestMillis, best, bytesRead, nanos[0].length, medians);
    }

    public double gigabytesPerSecond() {
        return bytesRead / (medianMillis / 1e3) / 1e9;
    }
}
