package dev.stepwise.runtime.export;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.EncoderArchitecture;
import dev.stepwise.runtime.model.EncoderSpec;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.Optimize;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Exports an encoder-only checkpoint into a validated folder in optimum's layout: {@code model.onnx} (weights in
 * {@code model.onnx_data} when large) with optimum's input and output names and dynamic {@code batch_size} /
 * {@code sequence_length} axes, the config and tokenizer files, and {@code stepwise.json}. The task is the options'
 * or, when they name none, the one {@code config.json}'s {@code architectures} says. Like a decoder export, it
 * checks every weight's shape first, validates against the PyTorch engine and writes nothing on failure.
 */
public final class EncoderExporter {
    /** Files beyond the decoder's side files that encoder folders carry (WordPiece vocabularies, sentence-transformers). */
    static final List<String> ENCODER_SIDE_FILES = List.of("vocab.txt", "modules.json", "sentence_bert_config.json",
            "1_Pooling/config.json");

    private EncoderExporter() {
    }

    public static ExportResult export(EncoderArchitecture architecture, Path checkpointDir, Path outputDir,
                                      ExportOptions options) {
        long started = System.nanoTime();
        EncoderSpec spec = architecture.spec();
        ModelConfig config = ExportSettings.readConfig(checkpointDir, spec.modelType(), spec.configKeys());
        Task task = options.task() != null ? options.task() : inferTask(config);
        TensorDecl output = spec.output(task);
        ExportSettings settings = ExportSettings.of(options, spec.opset(), spec.atol());
        int opset = settings.opset();
        DType dtype = options.dtype();
        if (options.lastLogitsOnly() || !options.generation().isEmpty()) {
            throw new StepwiseException(spec.modelType() + " is an encoder: --last-logits-only and --generation"
                    + " apply to text-generation models only");
        }
        if (options.tritonRepository() != null) {
            // the repository layout names its models after a decoder and its generation graphs
            throw new StepwiseException(spec.modelType() + " is an encoder: --triton-repository lays out text-generation"
                    + " exports only");
        }
        ProgressListener progress = options.progress();

        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir); OutputFolder out = OutputFolder.create(outputDir)) {
            checkpoint.checkAgainst(architecture.newModel().expectedWeights(config, task));
            Path modelFile = out.path().resolve(Exporter.MODEL_FILE);
            long weightBytes;
            boolean external;
            long bytes = Exporter.float32Bytes(checkpoint);
            progress.stage("trace MB", (dtype == DType.FLOAT16 ? bytes / 2 : bytes) >> 20);
            try (ExternalDataWriter sink = new ExternalDataWriter(out.path().resolve(Exporter.DATA_FILE))) {
                ModelProto model = EncoderTracer.trace(architecture, config, checkpoint, task, opset,
                        new ProgressWeightSink(sink, progress), dtype, options.optimize());
                if (options.optimize() == Optimize.ORT) {
                    Exporter.checkFused(model, spec.modelType(), "MultiHeadAttention", "Ops.encoderAttention");
                }
                weightBytes = sink.bytesWritten();
                external = weightBytes > options.externalDataThresholdBytes();
                sink.close();
                OnnxModelWriter.write(model, out.path(), Exporter.MODEL_FILE, Exporter.DATA_FILE, external);
            }
            progress.done();
            Exporter.copySideFiles(checkpointDir, out.path());
            copyEncoderFiles(checkpointDir, out.path());
            writeManifest(out.path(), spec, task, output, settings, dtype, external, options.optimize());

            List<ValidationCase> validation = List.of();
            if (options.validate()) {
                validation = Validator.requirePassed(EncoderValidator.validate(architecture, config, checkpoint, modelFile, task,
                        settings.atol(), settings.rtol(), progress));
            }
            out.commit();
            double seconds = (System.nanoTime() - started) / 1e9;
            return new ExportResult(out.target(), out.target().resolve(Exporter.MODEL_FILE), weightBytes, external,
                    seconds, validation, null);
        }
    }

    private static void copyEncoderFiles(Path from, Path to) {
        for (String name : ENCODER_SIDE_FILES) {
            Path source = from.resolve(name);
            if (Files.isRegularFile(source)) {
                Path target = to.resolve(name);
                try {
                    Files.createDirectories(target.getParent());
                    OutputFolder.copyInto(source, target);
                } catch (IOException e) {
                    throw OutputFolder.writeFailure("copy " + source + " to", target, e);
                }
            }
        }
    }

    /** What was exported: read back by pipelines (the task, the graph's inputs and output) and by tools. */
    private static void writeManifest(Path dir, EncoderSpec spec, Task task, TensorDecl output,
                                      ExportSettings settings, DType dtype, boolean external, Optimize optimize) {
        JsonObject m = ExportManifest.common("encoder", spec.modelType(), task, settings, dtype);
        ExportManifest.putOptimize(m, optimize);
        m.addProperty("model", Exporter.MODEL_FILE);
        JsonArray files = new JsonArray();
        files.add(Exporter.MODEL_FILE);
        if (external) {
            files.add(Exporter.DATA_FILE);
        }
        m.add("files", files);
        JsonArray inputs = new JsonArray();
        spec.inputs().forEach(t -> inputs.add(t.name()));
        m.add("inputs", inputs);
        JsonObject out = new JsonObject();
        out.addProperty("name", output.name());
        JsonArray axes = new JsonArray();
        output.axes().forEach(axes::add);
        out.add("axes", axes);
        m.add("output", out);
        ExportManifest.write(dir, m);
    }

    /**
     * The task of {@code config.json}'s first {@code architectures} entry, as optimum's
     * {@code TasksManager.infer_task_from_model} reads it ({@code BertModel} → feature-extraction,
     * {@code ...ForSequenceClassification} → text-classification, {@code ...ForMaskedLM} → fill-mask);
     * feature-extraction when there is none.
     */
    private static Task inferTask(ModelConfig config) {
        JsonElement e = config.json().get("architectures");
        if (e == null || e.isJsonNull()) {
            return Task.FEATURE_EXTRACTION;
        }
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty() || !e.getAsJsonArray().get(0).isJsonPrimitive()) {
            throw new StepwiseException(config.source() + ": key 'architectures' must be a list of class names, found "
                    + e);
        }
        JsonArray a = e.getAsJsonArray();
        String name = a.get(0).getAsString();
        if (name.endsWith("ForSequenceClassification")) {
            return Task.TEXT_CLASSIFICATION;
        }
        if (name.endsWith("ForMaskedLM")) {
            return Task.FILL_MASK;
        }
        if (name.endsWith("Model")) {
            return Task.FEATURE_EXTRACTION;
        }
        throw new StepwiseException(config.source() + ": architectures[0] = '" + name + "' names no task Stepwise"
                + " exports (expected ...Model, ...ForSequenceClassification or ...ForMaskedLM); pass --task");
    }
}
