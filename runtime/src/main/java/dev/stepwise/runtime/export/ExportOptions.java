package dev.stepwise.runtime.export;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.onnx.Optimize;

/**
 * How to export: start from {@link #defaults()} and change what differs, one {@code with...} call per setting.
 *
 * <pre>{@code
 * ExportOptions options = ExportOptions.defaults()
 *         .withDtype(DType.FLOAT16)                              // half-precision graph, validated with rtol
 *         .withGeneration(Set.of(GenerationGraph.LOOP))          // also write model_loop.onnx
 *         .withTritonRepository(Path.of("triton"));              // and lay it out for Triton
 * }</pre>
 *
 * <p><b>Why no separate builder</b>: these {@code with...} methods are the builder. Each returns a new, complete and
 * checked value, so a half-configured options object can be kept, shared between threads and forked
 * ({@code base.withDtype(FLOAT16)} and {@code base.withOpset(17)} leave {@code base} as it was), there is no
 * {@code build()} to forget, and a bad value fails at the call that set it. A mutable builder would add a second way
 * to write the same thing and nothing a caller could not already do. The canonical constructor exists because
 * records have one; it grows a parameter whenever an option is added, so prefer {@code defaults().with...}.
 *
 * @param task                       what the graph computes; null (the default) for the model's own:
 *                                   {@link Task#TEXT_GENERATION_WITH_PAST} (the KV-cache decoder) for a decoder, the
 *                                   task of {@code config.json}'s {@code architectures} for an encoder
 * @param opset                      the ONNX opset to write, 13 to 22; 0 for the architecture's default
 * @param atol                       the absolute tolerance of validation (max abs difference per output); NaN for
 *                                   the architecture's default
 * @param validate                   whether to compare the export with the PyTorch reference (needs
 *                                   {@code stepwise-reference} on the class path); on by default
 * @param externalDataThresholdBytes weights larger in total than this many bytes go to {@code model.onnx_data} beside
 *                                   the graph; {@link #DEFAULT_EXTERNAL_DATA_THRESHOLD} by default, and above 2 GiB
 *                                   always (protobuf's limit)
 * @param progress                   told about each stage of long work (the CLI draws progress bars from it);
 *                                   {@link ProgressListener#SILENT} by default
 * @param dtype                      the graph's floating type: {@link DType#FLOAT} (the default, whatever the
 *                                   checkpoint's dtype) or {@link DType#FLOAT16}, which keeps weights, activations, KV
 *                                   cache and logits in half precision
 * @param rtol                       the relative tolerance of validation: an output passes when its max abs
 *                                   difference is at most {@code atol + rtol * max |reference|}; NaN for the default
 *                                   of the type ({@link #FLOAT32_RTOL} or {@link #FLOAT16_RTOL})
 * @param generation                 whole-generation graphs to write next to {@code model.onnx} (each a whole
 *                                   generation in one ONNX Runtime call); none by default
 * @param lastLogitsOnly             whether the LM head runs on the last position only (transformers'
 *                                   {@code logits_to_keep=1}): logits {@code [batch, 1, vocab]} instead of optimum's
 *                                   {@code [batch, sequence, vocab]}; off by default
 * @param tritonRepository           a folder to lay the validated export out in as a Triton model repository
 *                                   ({@link TritonRepository}); null (the default) for none
 * @param optimize                   {@link Optimize#PLAIN} (the default: standard ONNX operators only) or
 *                                   {@link Optimize#ORT} (ONNX Runtime's fused operators, for the architectures whose
 *                                   forward has them)
 * @param maxLength                  with {@link Optimize#ORT}: the capacity of a preallocated KV cache the generator
 *                                   binds once per request and ONNX Runtime updates in place (prompt plus new tokens
 *                                   at most this many); 0 (the default) for the copying cache
 */
public record ExportOptions(Task task, int opset, double atol, boolean validate, long externalDataThresholdBytes,
                            ProgressListener progress, DType dtype, double rtol,
                            java.util.Set<GenerationGraph> generation, boolean lastLogitsOnly,
                            java.nio.file.Path tritonRepository, Optimize optimize, int maxLength) {

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

    /**
     * Checks the type and copies the generation set; prefer {@link #defaults()} and the {@code with...} methods.
     *
     * @param task                       see {@link #task()}
     * @param opset                      see {@link #opset()}
     * @param atol                       see {@link #atol()}
     * @param validate                   see {@link #validate()}
     * @param externalDataThresholdBytes see {@link #externalDataThresholdBytes()}
     * @param progress                   see {@link #progress()}
     * @param dtype                      see {@link #dtype()}
     * @param rtol                       see {@link #rtol()}
     * @param generation                 see {@link #generation()}
     * @param lastLogitsOnly             see {@link #lastLogitsOnly()}
     * @param tritonRepository           see {@link #tritonRepository()}
     * @param optimize                   see {@link #optimize()}
     * @param maxLength                  see {@link #maxLength()}
     * @throws IllegalArgumentException when {@code dtype} is neither {@code FLOAT} nor {@code FLOAT16}
     */
    public ExportOptions {
        if (dtype != DType.FLOAT && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("dtype must be FLOAT or FLOAT16, got " + dtype);
        }
        generation = java.util.Set.copyOf(generation);
        java.util.Objects.requireNonNull(optimize, "optimize");
        if (maxLength < 0) {
            throw new IllegalArgumentException("maxLength must be >= 0, got " + maxLength);
        }
    }

    /**
     * The usual export: the KV-cache decoder in float32 at the architecture's opset, validated against PyTorch with
     * the architecture's tolerance, no generation graphs, no Triton repository, no progress reports.
     *
     * @return the default options
     */
    public static ExportOptions defaults() {
        return new ExportOptions(null, 0, Double.NaN, true, DEFAULT_EXTERNAL_DATA_THRESHOLD,
                ProgressListener.SILENT, DType.FLOAT, Double.NaN,
                java.util.Set.of(), false, null, Optimize.PLAIN, 0);
    }

    /**
     * Sets the task.
     *
     * @param t {@link Task#TEXT_GENERATION_WITH_PAST} (default) or {@link Task#TEXT_GENERATION} (logits only, no
     *          cache); the architecture must support it
     * @return these options with the task changed
     */
    public ExportOptions withTask(Task t) {
        return new ExportOptions(t, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the opset.
     *
     * @param o an ONNX opset from 13 to 22, or 0 for the architecture's default (checked when exporting)
     * @return these options with the opset changed
     */
    public ExportOptions withOpset(int o) {
        return new ExportOptions(task, o, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the absolute tolerance of validation.
     *
     * @param a the largest max abs difference allowed per output, above 0; NaN for the architecture's default
     * @return these options with the tolerance changed
     */
    public ExportOptions withAtol(double a) {
        return new ExportOptions(task, opset, a, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Turns validation against the PyTorch reference on or off. Without it the export needs no
     * {@code stepwise-reference} on the class path, and nothing checks that the graph computes what the model does.
     *
     * @param v whether to validate (on by default)
     * @return these options with validation turned on or off
     */
    public ExportOptions withValidate(boolean v) {
        return new ExportOptions(task, opset, atol, v, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the size above which weights go to {@code model.onnx_data} instead of into {@code model.onnx}.
     *
     * @param bytes the threshold in bytes; weights above 2 GiB always go to the data file
     * @return these options with the threshold changed
     */
    public ExportOptions withExternalDataThreshold(long bytes) {
        return new ExportOptions(task, opset, atol, validate, bytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the listener told about the export's stages (tracing, writing, validating).
     *
     * @param p the listener; {@link ProgressListener#SILENT} for none
     * @return these options with the listener changed
     */
    public ExportOptions withProgress(ProgressListener p) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, p, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the graph's floating type. float16 halves the files and the KV cache; it is validated against the float32
     * reference with a relative tolerance and a check of the greedy choice.
     *
     * @param d {@link DType#FLOAT} (default) or {@link DType#FLOAT16}
     * @return these options with the type changed
     * @throws IllegalArgumentException for any other type
     */
    public ExportOptions withDtype(DType d) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, d, rtol, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Sets the whole-generation graphs to write next to {@code model.onnx}, each running a whole generation in one
     * ONNX Runtime call ({@code model_loop.onnx} with standard ops only, or ONNX Runtime's search operators).
     *
     * @param graphs the graphs to write; empty (the default) for none
     * @return these options with the graphs changed
     */
    public ExportOptions withGeneration(java.util.Set<GenerationGraph> graphs) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, graphs, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * Makes the LM head run on the last position only: logits {@code [batch, 1, vocab]}, which is all generation
     * needs, instead of {@code [batch, sequence, vocab]}; prefill over a long prompt then skips most of the head.
     *
     * @param l whether only the last position's logits are computed (off by default)
     * @return these options with the setting changed
     */
    public ExportOptions withLastLogitsOnly(boolean l) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, l, tritonRepository, optimize, maxLength);
    }

    /**
     * Also writes a Triton Inference Server model repository at {@code repository} (null = none): the decoder and each
     * generation graph as an ONNX Runtime model sharing the export's weights file ({@link TritonRepository}). It must
     * be a new or empty folder outside the export folder; that is checked before any work.
     *
     * @param repository the repository folder, or null for none
     * @return these options with the repository changed
     */
    public ExportOptions withTritonRepository(java.nio.file.Path repository) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, repository, optimize, maxLength);
    }

    /**
     * Sets the relative tolerance of validation: an output passes when its max abs difference is at most
     * {@code atol + rtol * max |reference|}.
     *
     * @param r the relative tolerance, 0 or more; NaN for the default of the graph's type
     * @return these options with the tolerance changed
     */
    public ExportOptions withRtol(double r) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, r, generation, lastLogitsOnly, tritonRepository, optimize, maxLength);
    }

    /**
     * The relative tolerance in effect.
     *
     * @return {@link #rtol()}, or the default for {@link #dtype()} when it is NaN
     */
    public double effectiveRtol() {
        if (!Double.isNaN(rtol)) {
            return rtol;
        }
        return dtype == DType.FLOAT16 ? FLOAT16_RTOL : FLOAT32_RTOL;
    }

    /**
     * Chooses the operators of the graph: {@link Optimize#ORT} traces the forward with ONNX Runtime's fused
     * {@code com.microsoft} operators (a file for ONNX Runtime only; float32; the decoders and the BERT / DistilBERT
     * encoders; seq2seq and forwards that build their own attention are refused with the reason),
     * {@link Optimize#PLAIN} with standard ONNX operators.
     *
     * @param o the operators to use ({@link Optimize#PLAIN} by default)
     * @return these options with the setting changed
     */
    public ExportOptions withOptimize(Optimize o) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, o, maxLength);
    }

    /**
     * Writes an in-place KV cache export: {@code stepwise.json} records {@code "kv_cache": {"capacity": n,
     * "in_place": true}} and the generator binds past and present to one buffer of {@code n} positions per layer
     * (ONNX Runtime's GroupQueryAttention share-buffer mode). Needs {@link Optimize#ORT}.
     *
     * @param n the capacity in positions (prompt plus new tokens), or 0 for the copying cache
     * @return these options with the setting changed
     */
    public ExportOptions withMaxLength(int n) {
        return new ExportOptions(task, opset, atol, validate, externalDataThresholdBytes, progress, dtype, rtol, generation, lastLogitsOnly, tritonRepository, optimize, n);
    }
}
