package dev.stepwise.bench;

import java.util.Locale;

/**
 * One of issue 12's targets evaluated on one variant, precision and batch of a matrix run: the measured ratio
 * ({@code value}, NaN when a cell it needs was not measured), the bound, and whether the value must stay at or below
 * it ({@code atMost}) or reach it.
 */
public record MatrixTarget(String target, String variant, String precision, int batch, double value, double bound,
                           boolean atMost, String missing) {

    public enum Status {
        MET, NOT_MET, NOT_MEASURED;

        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', ' ');
        }
    }

    public Status status() {
        if (missing != null) {
            return Status.NOT_MEASURED;
        }
        return (atMost ? value <= bound : value >= bound) ? Status.MET : Status.NOT_MET;
    }

    /** {@code [met]      plain fp32 batch 1: decode at past 32 <= 1.10x floor: 1.04x}. */
    public String line() {
        String head = String.format(Locale.ROOT, "  %-16s %s %s batch %d: %s", "[" + status().label() + "]", variant,
                precision, batch, target);
        return missing != null ? head + ": " + missing : head + String.format(Locale.ROOT, ": %.2fx", value);
    }
}
