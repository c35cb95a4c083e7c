package dev.stepwise.bench;

/**
 * One cell of {@code bench --matrix}: ONNX Runtime on one export variant and precision at one batch size, either a
 * decode step at past {@code length} ({@code ms}: median ms per step) or a prefill of {@code length} tokens
 * ({@code ms}: median prefill), its own memory floor (the step's weight bytes plus the KV cache at that length, read
 * at {@code floorGbPerS}, the bandwidth measured right after the cell with its session still loaded), and the PyTorch
 * engine's fp32 figure for the same batch, kind and length. A cell
 * that cannot run carries {@code skipped} (the reason) and NaN figures; a PyTorch figure that could not be measured
 * (the engine would not fit in memory) is NaN.
 */
public record MatrixCell(String variant, String precision, int batch, Kind kind, int length, double ms,
                         double floorMs, double floorGbPerS, double torchMs, long weightBytes, long kvBytes,
                         String skipped) {
    public enum Kind {
        DECODE, PREFILL
    }

    static MatrixCell skipped(String variant, String precision, int batch, Kind kind, int length, String reason) {
        return new MatrixCell(variant, precision, batch, kind, length, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0,
                0, reason);
    }

    public boolean measured() {
        return skipped == null;
    }

    /** ONNX Runtime's time over the cell's floor (1.0 = memory-bound). */
    public double vsFloor() {
        return ms / floorMs;
    }

    /** The PyTorch engine's time over ONNX Runtime's (above 1: ONNX Runtime is faster). */
    public double torchOverOrt() {
        return torchMs / ms;
    }

    /** {@code decode@32} or {@code prefill 128}. */
    public String label() {
        return kind == Kind.DECODE ? "decode@" + length : "prefill " + length;
    }
}
