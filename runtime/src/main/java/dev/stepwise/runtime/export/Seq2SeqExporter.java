package dev.stepwise.runtime.export;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqArchitecture;
import dev.stepwise.runtime.model.Seq2SeqSpec;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.onnx.DedupWeightSink;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.ops.ShapeOps;
import java.nio.file.Path;
import java.util.List;

/**
 * Exports an encoder-decoder checkpoint into optimum's seq2seq set: {@code encoder_model.onnx},
 * {@code decoder_model.onnx}, {@code decoder_with_past_model.onnx} and the two merged behind an {@code If} in
 * {@code decoder_model_merged.onnx}, plus Stepwise's single decoder graph {@code decoder_single_model.onnx}
 * ({@link Seq2SeqTracer.Graph#SINGLE_DECODER}), all pointing into ONE weights file
 * ({@code model.onnx_data}, each weight stored once however many graphs use it), the config and tokenizer files, and
 * {@code stepwise.json} naming the files. Like the other exports it checks every weight's shape first, validates each
 * file against the PyTorch engine and writes nothing on failure.
 */
public final class Seq2SeqExporter {
    private Seq2SeqExporter() {
    }

    public static ExportResult export(Seq2SeqArchitecture architecture, Path checkpointDir, Path outputDir,
                                      ExportOptions options) {
        long started = System.nanoTime();
        Seq2SeqSpec spec = architecture.spec();
        ModelConfig config = ExportSettings.readConfig(checkpointDir, spec.modelType(), spec.configKeys());
        if (options.task() != null && options.task() != Task.TEXT2TEXT_GENERATION) {
            throw new StepwiseException(spec.modelType() + " is an encoder-decoder model: its task is"
                    + " text2text-generation, not " + options.task().cliName());
        }
        if (options.optimize() != dev.stepwise.runtime.onnx.Optimize.PLAIN) {
            throw dev.stepwise.runtime.onnx.Optimize.refusal(spec.modelType(),
                    "seq2seq forwards have no fused-operator form yet");
        }
        if (options.lastLogitsOnly() || !options.generation().isEmpty() || options.tritonRepository() != null) {
            throw new StepwiseException(spec.modelType() + " is an encoder-decoder model: --last-logits-only,"
                    + " --generation and --triton-repository apply to decoder-only exports");
        }
        ExportSettings settings = ExportSettings.of(options, spec.opset(), spec.atol());
        int opset = settings.opset();
        DType dtype = options.dtype();
        if (dtype != DType.FLOAT) {
            throw new StepwiseException(spec.modelType() + ": seq2seq export is fp32 only for now (got " + dtype + ")");
        }
        ProgressListener progress = options.progress();
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir); OutputFolder out = OutputFolder.create(outputDir)) {
            checkpoint.checkAgainst(expectedWeights(architecture, config));
            long weightBytes;
            progress.stage("trace MB", Exporter.float32Bytes(checkpoint) >> 20);
            try (ExternalDataWriter data = new ExternalDataWriter(out.path().resolve(Exporter.DATA_FILE))) {
                DedupWeightSink shared = new DedupWeightSink(new ProgressWeightSink(data, progress));
                for (Seq2SeqTracer.Graph g : Seq2SeqTracer.Graph.values()) {
                    ModelProto model = Seq2SeqTracer.trace(architecture, config, checkpoint, g, opset, shared, dtype);
                    OnnxModelWriter.write(model, out.path(), g.file(), Exporter.DATA_FILE, true);
                }
                weightBytes = data.bytesWritten();
            }
            progress.done();
            Exporter.copySideFiles(checkpointDir, out.path());
            writeManifest(out.path(), spec, settings);
            List<ValidationCase> validation = List.of();
            if (options.validate()) {
                validation = Validator.requirePassed(Seq2SeqValidator.validate(architecture, config, checkpoint, out.path(),
                        settings.atol(), settings.rtol()));
            }
            out.commit();
            double seconds = (System.nanoTime() - started) / 1e9;
            return new ExportResult(out.target(), out.target().resolve(Seq2SeqTracer.Graph.DECODER.file()),
                    weightBytes, true, seconds, validation, null);
        }
    }

    /** Every checkpoint tensor the two forwards read, from a shape-only run of each (with and without a past). */
    public static List<WeightSpec> expectedWeights(Seq2SeqArchitecture architecture, ModelConfig config) {
        return ShapeOps.expectedWeights(architecture.newModel(), config);
    }

    private static void writeManifest(Path dir, Seq2SeqSpec spec, ExportSettings settings) {
        JsonObject m = ExportManifest.common("seq2seq", spec.modelType(), Task.TEXT2TEXT_GENERATION, settings,
                DType.FLOAT);
        JsonArray files = new JsonArray();
        for (Seq2SeqTracer.Graph g : Seq2SeqTracer.Graph.values()) {
            files.add(g.file());
        }
        files.add(Exporter.DATA_FILE);
        m.add("files", files);
        m.addProperty("encoder", Seq2SeqTracer.Graph.ENCODER.file());
        m.addProperty("decoder", Seq2SeqTracer.Graph.DECODER.file());
        m.addProperty("decoder_with_past", Seq2SeqTracer.Graph.DECODER_WITH_PAST.file());
        m.addProperty("decoder_single", Seq2SeqTracer.Graph.SINGLE_DECODER.file());
        m.addProperty("decoder_merged", Seq2SeqTracer.Graph.MERGED_DECODER.file());
        m.addProperty("weights", Exporter.DATA_FILE);
        ExportManifest.write(dir, m);
    }
}
