package dev.stepwise.runtime;

import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.nio.file.Path;

/**
 * The library's entry points, one per job: export a Hugging Face checkpoint to ONNX (validated against PyTorch),
 * quantize an ONNX file or folder, unroll a checkpoint into static step graphs, and open an exported or unrolled folder
 * to generate with. Options are immutable values with {@code with...} methods ({@code ExportOptions.defaults()
 * .withDtype(...)}); every failure the caller can act on is a {@link StepwiseException} with a one-line message. All
 * methods are thread-safe; each writes only its own output folder, atomically (nothing appears unless it succeeds).
 *
 * <pre>{@code
 * Stepwise.export(Path.of("llama-dir"), Path.of("out"), ExportOptions.defaults());
 * try (LanguageModel model = Stepwise.open(Path.of("out"))) {
 *     String text = model.generate("def fib(n):", model.settings().maxNewTokens(32).build(0));
 * }
 * }</pre>
 *
 * <p>Per architecture, the generated {@code <Arch>Exporter.run(...)} classes (e.g. {@code LlamaExporter}) remain the
 * documented typed entry points; they do what {@link #export} does for their architecture.
 */
public final class Stepwise {
    private Stepwise() {
    }

    /**
     * Exports {@code checkpoint} (a folder with {@code config.json} and safetensors or {@code pytorch_model.bin}) to
     * {@code output}: {@code model.onnx}, its weights, the tokenizer and config files, and {@code stepwise.json}; the
     * export is compared with the PyTorch reference unless the options say not to, and a failed comparison writes
     * nothing.
     */
    public static ExportResult export(Path checkpoint, Path output, ExportOptions options) {
        return Exporter.export(checkpoint, output, options);
    }

    /**
     * Quantizes an ONNX file or folder (an export with its loop/search graphs, an unrolled folder, an encoder) into
     * {@code output}, weights shared between files staying shared; the quality gate compares the result with the
     * float model and refuses it below the options' thresholds.
     */
    public static QuantizeResult quantize(Path input, Path output, QuantizeOptions options) {
        return Quantizer.quantize(input, output, options);
    }

    /** Unrolls {@code checkpoint} into one static graph per generation step, all sharing one weights file. */
    public static UnrollResult unroll(Path checkpoint, Path output, UnrollOptions options) {
        return Unroller.unroll(checkpoint, output, options);
    }

    /**
     * Opens an exported encoder folder as a pipeline for {@code task} ({@code feature-extraction},
     * {@code text-classification} or {@code fill-mask}), with default options: tokenization through the folder's
     * {@code tokenizer.json}, batches padded as its tokenizer config says, and for feature-extraction the pooling and
     * normalisation a sentence-transformers folder declares (else mean pooling, not normalised).
     *
     * <pre>{@code
     * try (Pipeline p = Stepwise.pipeline("feature-extraction", Path.of("out"))) {
     *     float[][] vectors = ((FeatureExtractionPipeline) p).embed(List.of("A sentence."));
     * }
     * }</pre>
     */
    public static dev.stepwise.runtime.pipeline.Pipeline pipeline(String task, Path folder) {
        return pipeline(task, folder, dev.stepwise.runtime.pipeline.PipelineOptions.defaults());
    }

    /** As {@link #pipeline(String, Path)} with {@code options} (pooling, normalisation, top-k, batch size, threads). */
    public static dev.stepwise.runtime.pipeline.Pipeline pipeline(String task, Path folder,
                                                                  dev.stepwise.runtime.pipeline.PipelineOptions options) {
        dev.stepwise.annotations.Task t;
        try {
            t = dev.stepwise.annotations.Task.fromCliName(task);
        } catch (IllegalArgumentException e) {
            throw new StepwiseException(e.getMessage());
        }
        return dev.stepwise.runtime.pipeline.Pipeline.open(t, folder, options);
    }

    /** Opens an exported or unrolled folder for generation, with one ONNX Runtime thread per core. */
    public static LanguageModel open(Path folder) {
        return LanguageModel.open(folder, 0);
    }

    /** As {@link #open(Path)} with {@code threads} ONNX Runtime intra-op threads (0 = one per core). */
    public static LanguageModel open(Path folder, int threads) {
        return LanguageModel.open(folder, threads);
    }
}
