package dev.stepwise.runtime;

import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.TritonRepository;
import dev.stepwise.runtime.pipeline.Pipeline;
import dev.stepwise.runtime.pipeline.PipelineOptions;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.nio.file.Path;

/**
 * The library's entry points, one static method per job: {@link #export export} a Hugging Face checkpoint to ONNX
 * (validated against PyTorch), {@link #quantize quantize} an ONNX file or folder, {@link #unroll unroll} a checkpoint
 * into static per-step graphs, lay an export out as a {@link #tritonRepository Triton model repository}, and
 * {@link #open open} an exported or unrolled folder as a {@link LanguageModel} to generate with.
 *
 * <pre>{@code
 * ExportResult exported = Stepwise.export(Path.of("llama-dir"), Path.of("out"), ExportOptions.defaults());
 * Stepwise.quantize(exported.outputDir(), Path.of("out-int8"), QuantizeOptions.defaults());
 * try (LanguageModel model = Stepwise.open(Path.of("out-int8"))) {
 *     String prompt = "def fib(n):";
 *     GenerationConfig greedy = model.settings().maxNewTokens(32).build(model.encode(prompt).length);
 *     String text = model.generate(prompt, greedy, System.out::print);    // streamed as it is decoded
 * }
 * }</pre>
 *
 * <p><b>Options</b> are immutable values that start from defaults and change one setting per {@code with...} call
 * ({@code ExportOptions.defaults().withDtype(DType.FLOAT16)}); generation settings come from a builder
 * ({@link LanguageModel#settings()}).
 *
 * <p><b>Failures</b> the caller can act on (a missing file, bad input, a failed validation or quality gate) are
 * {@link StepwiseException}s whose message is one line naming what and where; anything else is a bug.
 *
 * <p><b>Outputs</b> appear atomically: each method works in a hidden folder beside its output folder and moves it into
 * place (replacing an earlier result there) only when everything, validation included, succeeded, so a failure or a
 * crash never leaves a half-written folder where the user looks. All methods are thread-safe; calls that write
 * different output folders may run concurrently.
 *
 * <p><b>Class path</b>: the architectures are found with {@link java.util.ServiceLoader} in
 * {@code dev.stepwise:stepwise-models}; exporting with validation (the default) also needs the PyTorch reference,
 * {@code dev.stepwise:stepwise-reference}. Opening and generating need neither PyTorch nor the reference.
 *
 * <p>Per architecture, the generated {@code <Arch>Exporter.run(...)} classes (for example {@code LlamaExporter}) remain
 * the documented typed entry points; they do what {@link #export} does for their architecture.
 */
public final class Stepwise {
    private Stepwise() {
    }

    /**
     * Exports a Hugging Face checkpoint to ONNX: traces the architecture's forward into {@code model.onnx} (the
     * decoder with a KV cache, inputs and outputs named as optimum names them), writes its weights (inside the file, or
     * in {@code model.onnx_data} above {@link ExportOptions#externalDataThresholdBytes()}), copies the tokenizer and
     * config files, and records what was exported in {@code stepwise.json}. Unless {@link ExportOptions#validate()}
     * is off, the ONNX Runtime outputs are then compared with the PyTorch reference on several cases (prefill, decode
     * with a past, a padded batch); the folder appears only if every case is within tolerance.
     *
     * @param checkpoint a checkpoint folder: {@code config.json} (its {@code model_type} picks the architecture) and
     *                   {@code *.safetensors} (sharded or not) or {@code pytorch_model.bin}
     * @param output     the folder to write; created, or replaced when it exists (it must not be a file)
     * @param options    what to export and how to check it; {@link ExportOptions#defaults()} for the usual export
     * @return where the files went, their size, and each validation case's figures
     * @throws StepwiseException when the checkpoint is unreadable, its architecture is not on the class path, a weight
     *                           is missing or has the wrong shape, an option is out of range, or the output cannot be
     *                           written; {@link dev.stepwise.runtime.export.ValidationException} (a subclass) when an
     *                           output differs from the reference beyond tolerance
     */
    public static ExportResult export(Path checkpoint, Path output, ExportOptions options) {
        return Exporter.export(checkpoint, output, options);
    }

    /**
     * Quantizes an ONNX file, or every {@code .onnx} file of a folder (an export with its loop or search graphs, an
     * unrolled folder, an encoder), into {@code output}: weights shared between the files stay shared in one weights
     * file, and the folder's other files (tokenizer, configs, manifests) are copied. Unless
     * {@link QuantizeOptions#gate()} is off, the quality gate then runs the quantized and the float model on the
     * evaluation inputs and refuses the result (writing nothing) when it falls below the options' thresholds. A
     * {@code quantize-report.json} records the figures.
     *
     * @param input   an {@code .onnx} file or a folder holding at least one
     * @param output  the folder to write; must not be the input's folder; replaced when it exists
     * @param options the mode and its scheme, and the gate's thresholds; {@link QuantizeOptions#defaults()} is int8
     *                dynamic
     * @return the files written, bytes before and after, quantized nodes by kind, and the gate's figures per file
     * @throws StepwiseException when the input has no ONNX file or is unreadable, an opset is too old for the mode, the
     *                           quality gate fails, or the output cannot be written
     */
    public static QuantizeResult quantize(Path input, Path output, QuantizeOptions options) {
        return Quantizer.quantize(input, output, options);
    }

    /**
     * Unrolls a checkpoint into one fully static graph per generation step, for compilers that take fixed shapes only
     * (NPUs): {@code decoder_model-opt_gen_step=0.onnx} is prefill over the prompt, each later step decodes one token
     * after a past of fixed length, and every step reads one shared weights file, {@code decoder_model-opt.onnx_data}.
     * Unless {@link UnrollOptions#validate()} is off, the chained steps are then checked against the dynamic decoder
     * (same logits, presents and greedy tokens within tolerance). The folder also holds {@code unroll.json} (what
     * {@link #open} needs to generate with it) and {@code unroll-report.json} (node counts per step). An encoder-decoder
     * checkpoint (bart, t5) gets a static encoder {@code encoder_model-opt.onnx} for B inputs of L tokens (the prompt
     * length; shorter inputs are right padded and masked) and one decoder graph per step, checked against the dynamic
     * encoder and single decoder; {@link dev.stepwise.runtime.unroll.Seq2SeqStepGraphs#open} generates with it.
     *
     * @param checkpoint a checkpoint folder, as for {@link #export}
     * @param output     the folder to write; replaced when it exists
     * @param options    batch, prompt length and number of new tokens, all fixed; {@link UnrollOptions#of}
     * @return the steps written and the report (node counts, sizes, the chained check)
     * @throws StepwiseException when the checkpoint is unreadable, the prompt length plus the steps exceed the model's
     *                           positions, an option is out of range, or the chained check fails
     */
    public static UnrollResult unroll(Path checkpoint, Path output, UnrollOptions options) {
        return Unroller.unroll(checkpoint, output, options);
    }

    /**
     * Lays out an exported (or quantized) folder as a Triton Inference Server model repository for its ONNX Runtime
     * backend: the decoder becomes the model {@code decoder} and each whole-generation graph the model named after it
     * ({@code loop}, {@code beam_search}, {@code greedy_search}, {@code sampling}), each with its {@code config.pbtxt}
     * (inputs, outputs, dims and data types from the graph) and version {@code 1}. The weights are hard links to the
     * export's files where the file system allows, so the repository costs no second copy. The same happens during an
     * export with {@link ExportOptions#withTritonRepository}.
     *
     * @param exported   a folder written by {@link #export} or {@link #quantize}
     * @param repository a new or empty folder, not inside {@code exported} and not containing it
     * @return the repository, its models and the export files they come from, and the bytes linked and copied
     * @throws StepwiseException when {@code repository} is not a new or empty folder beside the export, or a file
     *                           cannot be read or written
     */
    public static TritonRepository.Layout tritonRepository(Path exported, Path repository) {
        return TritonRepository.write(exported, repository);
    }

    /**
     * Opens an exported encoder folder as a pipeline for {@code task} ({@code feature-extraction},
     * {@code text-classification} or {@code fill-mask}), a decoder export for {@code text-generation}, or a seq2seq
     * export for {@code text2text-generation}, with default options: tokenization through the folder's
     * {@code tokenizer.json}, batches padded as its tokenizer config says, and for feature-extraction the pooling and
     * normalisation a sentence-transformers folder declares (else mean pooling, not normalised); the generating tasks
     * use transformers' pipeline defaults under the folder's generation config, and text2text-generation prefixes
     * config.json's {@code prefix}.
     *
     * <pre>{@code
     * try (Pipeline p = Stepwise.pipeline("feature-extraction", Path.of("out"))) {
     *     float[][] vectors = ((FeatureExtractionPipeline) p).embed(List.of("A sentence."));
     * }
     * try (Pipeline p = Stepwise.pipeline("text2text-generation", Path.of("t5-out"))) {
     *     List<List<String>> texts = ((Text2TextGenerationPipeline) p).generate(List.of("w5 w77 w12"));
     * }
     * }</pre>
     *
     * @param task   the pipeline task's command-line name
     * @param folder a folder written by {@link #export} (or {@link #quantize}); for text-generation also by
     *               {@link #unroll}
     * @return the pipeline, holding an ONNX Runtime session until closed
     * @throws StepwiseException when the task is unknown or not the folder's, or the folder cannot be loaded
     */
    public static Pipeline pipeline(String task, Path folder) {
        return pipeline(task, folder, dev.stepwise.runtime.pipeline.PipelineOptions.defaults());
    }

    /**
     * As {@link #pipeline(String, Path)} with {@code options}.
     *
     * @param task    the pipeline task's command-line name
     * @param folder  a folder written by {@link #export} (or {@link #quantize}) from an encoder or encoder-decoder
     *                checkpoint
     * @param options pooling, normalisation, top-k, batch size, threads, config task
     * @return the pipeline, holding an ONNX Runtime session until closed
     * @throws StepwiseException when the task is unknown or not the folder's, or the folder cannot be loaded
     */
    public static Pipeline pipeline(String task, Path folder, PipelineOptions options) {
        Task t;
        try {
            t = Task.fromCliName(task);
        } catch (IllegalArgumentException e) {
            throw new StepwiseException(e.getMessage());
        }
        return Pipeline.open(t, folder, options);
    }

    /**
     * Opens an exported, quantized or unrolled folder for generation, with one ONNX Runtime intra-op thread per core.
     * Same as {@code open(folder, 0)}.
     *
     * @param folder a folder written by {@link #export}, {@link #quantize} or {@link #unroll}
     * @return the model, holding ONNX Runtime sessions until {@linkplain LanguageModel#close() closed}
     * @throws StepwiseException when the folder is missing, holds no model Stepwise wrote, or ONNX Runtime cannot load it
     */
    public static LanguageModel open(Path folder) {
        return LanguageModel.open(folder, 0);
    }

    /**
     * Opens an exported, quantized or unrolled folder for generation with {@code threads} ONNX Runtime intra-op threads
     * per session.
     *
     * @param folder  a folder written by {@link #export}, {@link #quantize} or {@link #unroll}
     * @param threads intra-op threads per ONNX Runtime session; 0 for one per core
     * @return the model, holding ONNX Runtime sessions until {@linkplain LanguageModel#close() closed}
     * @throws StepwiseException when the folder is missing, holds no model Stepwise wrote, or ONNX Runtime cannot load it
     */
    public static LanguageModel open(Path folder, int threads) {
        return LanguageModel.open(folder, threads);
    }
}
