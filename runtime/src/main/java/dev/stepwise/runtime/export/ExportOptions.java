package dev.stepwise.runtime.export;

import dev.stepwise.annotations.Task;

/**
 * How to export: the task, opset and tolerance (0 / NaN = the architecture's default), whether to validate against
 * the PyTorch reference, and the external-data threshold.
 */
public record ExportOptions(Task task, int opset, double atol, boolean validate, long externalDataThresholdBytes,
                            ProgressListener progress, java.util.Set<GenerationGraph> generation) {

    public ExportOptions {
        generation = java.util.Set.copyOf(generation);
    }

    /** Models whose weights exceed this go to {@code model.onnx_data}; always above 2 GiB (protobuf's limit). */
    public static final long DEFAULT_EXTERNAL_DATA_THRESHOLD = 64L << 20;

    public static ExportOptions defaults() {
        return new ExportOptions(Task.TEXT_GENERATION_WITH_PAST, 0, Double.NaN, true, DEFAULT_EXTERNAL_DATA_THRESHOLD,
                ProgressListener.SILENT, java.util.Set.of());
    }

    public ExportOptions withTask(Task t) {
        return new ExportOptions(t, opset, atol, validate, externalDataThresholdBytes, progress, generation);
    }

    public ExportOptions withOpset(int o) {
        return new ExportOptions(task, o, atol, validate, externalDataThresholdBytes, progress, generation);
    }

    public ExportOptions withAtol(double a) {
        return new ExportOptions(task, opset, a, validate, externalDataThresholdBytes, progress, generation);
    }

    public ExportOptions withValidate(boolean v) {
        return new ExportOptions(task, opset, atol, v, externalDataThresholdBytes, progress, generation);
    }

    public ExportOptions withExternalDataThreshold(long bytes) {
        return new ExportOptions(task, opset, atol, validate, bytes, progress, generation);
    }

    /** Whole-generation graphs to write next to {@code model.onnx}. */
    public ExportOptions withGeneration(java.util.Set<GenerationGraph> graphs) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, graphs);
    }

    public ExportOptions withProgress(ProgressListener p) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, p, generation);
    }
}
