package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;

/**
 * How to export: the task (null = the model's own: text-generation-with-past for a decoder, the task of
 * {@code config.json}'s {@code architectures} for an encoder), opset and tolerance (0 / NaN = the architecture's default), whether to validate against
 * the PyTorch reference, the external-data threshold, and the graph's floating type: {@code FLOAT} (the default,
 * whatever the checkpoint's dtype) or {@code FLOAT16}, which keeps weights, activations, KV cache and logits in half
 * precision. {@code rtol} scales the tolerance with each output's magnitude (NaN = the default for the type:
 * {@link #FLOAT32_RTOL} for float32, {@link #FLOAT16_RTOL} for float16). {@code lastLogitsOnly} computes the LM head for the last
 * position only (transformers' {@code logits_to_keep=1}): logits {@code [batch, 1, vocab]} instead of optimum's
 * {@code [batch, sequence, vocab]}.
 */
public record ExportOptions(Task task, int opset, double atol, boolean validate, long externalDataThresholdBytes,
                            ProgressListener progress, DType dtype, double rtol,
                            java.util.Set<GenerationGraph> generation, boolean lastLogitsOnly) {


    /** Models whose weights exceed this go to {@code model.onnx_data}; always above 2 GiB (protobuf's limit). */
    public static final long DEFAULT_EXTERNAL_DATA_THRESHOLD = 64L << 20;

    /**
     * Default relative tolerance of a float16 graph against the float32 reference: an output passes when its max abs
     * difference is at most {@code atol + rtol × max |reference|}. float16 keeps 11 significant bits (a relative step
     * of 2^-11, about 4.9e-4); 2e-3 allows about four such steps of error, accumulated over the layers.
     */
    public static final double FLOAT16_RTOL = 2e-3;

    /**
     * Default relative tolerance of a float32 graph. ONNX Runtime and libtorch sum in different orders, so their
     * difference grows with the magnitudes involved: a fixed atol that suits a tiny model (logits near 1) fails a
     * correct 8B export whose logits and values reach the tens. 2e-5 of the largest |reference| is about 170 float32
     * rounding steps (2^-23) of it, summed over every layer.
     */
    public static final double FLOAT32_RTOL = 2e-5;

    public ExportOptions {
        if (dtype != DType.FLOAT && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("dtype must be FLOAT or FLOAT16, got " + dtype);
        }
        generation = java.util.Set.copyOf(generation);
    }

    public static ExportOptions defaults() {
        return new ExportOptions(null, 0, Double.NaN, true, DEFAULT_EXTERNAL_DATA_THRESHOLD,
                ProgressListener.SILENT, DType.FLOAT, Double.NaN,
                java.util.Set.of(), false);
    }

    public ExportOptions withTask(Task t) {
        return new ExportOptions(t, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly);
    }

    public ExportOptions withOpset(int o) {
        return new ExportOptions(task, o, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly);
    }

    public ExportOptions withAtol(double a) {
        return new ExportOptions(task, opset, a, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly);
    }

    public ExportOptions withValidate(boolean v) {
        return new ExportOptions(task, opset, atol, v, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly);
    }

    public ExportOptions withExternalDataThreshold(long bytes) {
        return new ExportOptions(task, opset, atol, validate, bytes, progress, dtype, rtol, generation, lastLogitsOnly);
    }

    public ExportOptions withProgress(ProgressListener p) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, p, dtype, rtol, generation, lastLogitsOnly);
    }

    /** {@code FLOAT} (default) or {@code FLOAT16}. */
    public ExportOptions withDtype(DType d) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, d, rtol, generation, lastLogitsOnly);
    }

    /** Whole-generation graphs to write next to {@code model.onnx}. */
    public ExportOptions withGeneration(java.util.Set<GenerationGraph> graphs) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, graphs, lastLogitsOnly);
    }

    /** Logits {@code [batch, 1, vocab]}: the LM head runs on the last position only (off by default). */
    public ExportOptions withLastLogitsOnly(boolean l) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, l);
    }

    public ExportOptions withRtol(double r) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, r, generation, lastLogitsOnly);
    }

    /** The relative tolerance in effect: {@link #rtol()}, or the default for {@link #dtype()} when NaN. */
    public double effectiveRtol() {
        if (!Double.isNaN(rtol)) {
            return rtol;
        }
        return dtype == DType.FLOAT16 ? FLOAT16_RTOL : FLOAT32_RTOL;
    }
}
