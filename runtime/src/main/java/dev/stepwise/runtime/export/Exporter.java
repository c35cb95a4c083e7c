package dev.stepwise.runtime.export;

import dev.stepwise.runtime.model.ModelFolder;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.DedupWeightSink;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Exports a checkpoint through an architecture's forward into a validated ONNX folder: checks the config and every
 * tensor's shape first, traces the forward while streaming weights into the output, copies config and tokenizer
 * files, validates against the PyTorch reference, and only then moves the folder into place (with, when asked, a
 * Triton model repository laid out from it).
 */
public final class Exporter {
    public static final String MODEL_FILE = "model.onnx";
    public static final String DATA_FILE = "model.onnx_data";
    public static final String MANIFEST_FILE = "stepwise.json";
    /** {@code stepwise.json}'s key for an in-place KV cache ({@code --max-length}). */
    static final String KV_CACHE = "kv_cache";

    /** Files copied next to the model so the folder is self-contained for generation. */
    static final List<String> SIDE_FILES = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model");

    private Exporter() {
    }

    /** Finds the architecture from {@code config.json}'s {@code model_type} and exports. */
    public static ExportResult export(Path checkpointDir, Path outputDir, ExportOptions options) {
        java.util.Optional<dev.stepwise.runtime.model.Seq2SeqArchitecture> seq2seq =
                dev.stepwise.runtime.model.Architectures.SEQ2SEQ.of(checkpointDir);
        if (seq2seq.isPresent()) {
            return Seq2SeqExporter.export(seq2seq.get(), checkpointDir, outputDir, options);
        }
        java.util.Optional<dev.stepwise.runtime.model.EncoderArchitecture> encoder =
                dev.stepwise.runtime.model.Architectures.ENCODERS.of(checkpointDir);
        if (encoder.isPresent()) {
            return EncoderExporter.export(encoder.get(), checkpointDir, outputDir, options);
        }
        return export(ModelFolder.read(checkpointDir).architecture(), checkpointDir, outputDir, options);
    }

    public static ExportResult export(Architecture architecture, Path checkpointDir, Path outputDir, ExportOptions options) {
        long started = System.nanoTime();
        ArchitectureSpec spec = architecture.spec();
        ModelConfig config = ExportSettings.readConfig(checkpointDir, spec.modelType(), spec.configKeys());
        // no task given: the KV-cache decoder
        Task task = options.task() != null ? options.task() : Task.TEXT_GENERATION_WITH_PAST;
        if (!spec.supports(task)) {
            throw new StepwiseException(spec.modelType() + " does not support task " + task.cliName());
        }
        ExportSettings settings = ExportSettings.of(options, spec.opset(), spec.atol());
        int opset = settings.opset();
        Optimize optimize = options.optimize();
        if (optimize == Optimize.ORT) {
            checkFusable(options);
        }
        checkMaxLength(options, config);
        ProgressListener progress = options.progress();
        Path triton = options.tritonRepository();
        if (triton != null) {
            TritonRepository.checkTarget(triton, outputDir);
        }

        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir); OutputFolder out = OutputFolder.create(outputDir)) {
            checkpoint.checkAgainst(architecture.newModel().expectedWeights(config));

            Path modelFile = out.path().resolve(MODEL_FILE);
            long weightBytes;
            boolean external;
            DType dtype = options.dtype();
            progress.stage("trace MB", (dtype == DType.FLOAT16 ? float32Bytes(checkpoint) / 2 : float32Bytes(checkpoint)) >> 20);
            try (ExternalDataWriter sink = new ExternalDataWriter(out.path().resolve(DATA_FILE))) {
                // One weights file for the decoder and its generation graphs: each weight is stored once.
                WeightSink shared = new DedupWeightSink(new ProgressWeightSink(sink, progress));
                ModelProto model = DecoderTracer.trace(architecture, config, checkpoint, task, opset, AxisSizes.dynamic(),
                        shared, false, dtype, options.lastLogitsOnly(), optimize);
                if (optimize == Optimize.ORT) {
                    checkFused(model, spec.modelType(), "GroupQueryAttention", "Ops.rotaryAttention or Ops.causalAttention");
                }
                Map<String, ModelProto> generation = GenerationGraphs.build(options.generation(), architecture, config,
                        checkpoint, shared, opset, checkpointDir);
                weightBytes = sink.bytesWritten();
                external = weightBytes > options.externalDataThresholdBytes();
                sink.close();
                for (Map.Entry<String, ModelProto> g : generation.entrySet()) {
                    OnnxModelWriter.write(g.getValue(), out.path(), g.getKey(), DATA_FILE, external, true);
                }
                OnnxModelWriter.write(model, out.path(), MODEL_FILE, DATA_FILE, external);
            }
            progress.done();
            copySideFiles(checkpointDir, out.path());
            writeManifest(out.path(), spec, task, settings, dtype, options.lastLogitsOnly(), optimize,
                    options.maxLength());

            List<ValidationCase> validation = List.of();
            if (options.validate()) {
                validation = Validator.requirePassed(Validator.validate(architecture, config, checkpoint, modelFile, task, settings.atol(), settings.rtol(),
                        dtype,
                        options.lastLogitsOnly(), optimize, progress));
            }
            // The repository links to the validated files while they are still in the temporary folder; both
            // folders are complete before either moves into place.
            TritonRepository.Layout layout = null;
            try (TritonRepository.Pending repository = triton == null ? null : TritonRepository.prepare(out.path(), triton)) {
                out.commit();
                if (repository != null) {
                    layout = repository.commit();
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            return new ExportResult(out.target(), out.target().resolve(MODEL_FILE), weightBytes, external, seconds,
                    validation, layout);
        }
    }

    /** Refuses, in one line, {@code --optimize ort} with options its fused graph cannot take. */
    private static void checkFusable(ExportOptions options) {
        if (options.dtype() != DType.FLOAT) {
            throw new StepwiseException("--optimize ort writes float32 graphs only (ONNX Runtime's CPU"
                    + " GroupQueryAttention is float32); drop --dtype fp16");
        }
        if (!options.generation().isEmpty()) {
            throw new StepwiseException("--optimize ort: whole-generation graphs (--generation) are traced with"
                    + " standard operators only; export them without --optimize");
        }
    }

    /**
     * Refuses, in one line, {@code --max-length} without {@code --optimize ort} (only GroupQueryAttention updates a
     * bound cache in place) or beyond the model's positions.
     */
    private static void checkMaxLength(ExportOptions options, ModelConfig config) {
        int n = options.maxLength();
        if (n == 0) {
            return;
        }
        if (options.optimize() != Optimize.ORT) {
            throw new StepwiseException("--max-length " + n + ": a preallocated in-place KV cache needs --optimize ort"
                    + " (GroupQueryAttention's share-buffer mode); the standard-op graph copies its cache");
        }
        if (n > config.maxPositions()) {
            throw new StepwiseException("--max-length " + n + " exceeds the model's " + config.maxPositions()
                    + " positions");
        }
    }

    /**
     * Refuses a traced {@code --optimize ort} graph without the fused attention {@code op}: the forward built its
     * attention from standard ops instead of asking {@code hooks} ({@code Ops}' fused layers) for it, so the file
     * would be a plain graph labelled fused. Checked on the traced graph, the one place that knows what the forward
     * used; the output folder is still temporary.
     */
    static void checkFused(ModelProto model, String modelType, String op, String hooks) {
        boolean fused = model.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals(op));
        if (!fused) {
            throw Optimize.refusal(modelType, "its forward builds attention from standard ops, not Ops' fused layers"
                    + " (" + hooks + ")");
        }
    }

    /**
     * The capacity of an export folder's in-place KV cache ({@code stepwise.json}'s {@code kv_cache}), or 0 when the
     * folder has the copying cache.
     */
    public static int kvCacheCapacity(Path dir) {
        Path manifest = dir.resolve(MANIFEST_FILE);
        if (!Files.isRegularFile(manifest)) {
            return 0;
        }
        JsonObject m = ModelConfig.readJson(manifest);
        if (!m.has(KV_CACHE)) {
            return 0;
        }
        JsonObject kv = m.getAsJsonObject(KV_CACHE);
        if (!kv.has("capacity") || !kv.has("in_place") || !kv.get("in_place").getAsBoolean()
                || kv.get("capacity").getAsInt() <= 0) {
            throw new StepwiseException(manifest + ": kv_cache must be {\"capacity\": n > 0, \"in_place\": true}, got "
                    + kv);
        }
        return kv.get("capacity").getAsInt();
    }

    /** The optimize setting of an export folder's manifest: {@link Optimize#PLAIN} when it says none. */
    public static Optimize optimize(Path dir) {
        Path manifest = dir.resolve(MANIFEST_FILE);
        if (!Files.isRegularFile(manifest)) {
            return Optimize.PLAIN;
        }
        JsonObject m = ModelConfig.readJson(manifest);
        return m.has("optimize") ? Optimize.parse(m.get("optimize").getAsString(), manifest.toString())
                : Optimize.PLAIN;
    }

    /** The checkpoint's size once widened to float32: what tracing streams into the output. */
    public static long float32Bytes(Checkpoint checkpoint) {
        long total = 0;
        for (String name : checkpoint.names()) {
            total += 4 * dev.stepwise.runtime.tensor.HostTensor.elementCount(checkpoint.shape(name));
        }
        return total;
    }

    /** Copies config, generation config and tokenizer files, when present, so an output folder is self-contained. */
    public static void copySideFiles(Path from, Path to) {
        for (String name : SIDE_FILES) {
            Path source = from.resolve(name);
            if (Files.isRegularFile(source)) {
                try {
                    OutputFolder.copyInto(source, to.resolve(name));
                } catch (IOException e) {
                    throw OutputFolder.writeFailure("copy " + source + " to", to.resolve(name), e);
                }
            }
        }
    }

    /** Whether the folder's manifest says its logits hold only the last position (false when it has no manifest). */
    public static boolean lastLogitsOnly(Path dir) {
        Path manifest = dir.resolve(MANIFEST_FILE);
        if (!Files.isRegularFile(manifest)) {
            return false;
        }
        JsonObject m = ModelConfig.readJson(manifest);
        return m.has("last_logits_only") && m.get("last_logits_only").getAsBoolean();
    }

    /** A small description of the export, read back by the generator and by tools. */
    private static void writeManifest(Path dir, ArchitectureSpec spec, Task task, ExportSettings settings,
                                      DType dtype, boolean lastLogitsOnly, Optimize optimize, int maxLength) {
        JsonObject m = ExportManifest.common("kv-cache-decoder", spec.modelType(), task, settings, dtype);
        m.addProperty("model", MODEL_FILE);
        m.addProperty("last_logits_only", lastLogitsOnly);
        ExportManifest.putOptimize(m, optimize);
        if (maxLength > 0) {
            JsonObject kv = new JsonObject();
            kv.addProperty("capacity", maxLength);
            kv.addProperty("in_place", true);
            m.add(KV_CACHE, kv);
        }
        ExportManifest.write(dir, m);
    }
}
