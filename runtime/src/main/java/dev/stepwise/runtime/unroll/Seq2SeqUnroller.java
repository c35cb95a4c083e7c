package dev.stepwise.runtime.unroll;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.export.Seq2SeqAxes;
import dev.stepwise.runtime.export.Seq2SeqExporter;
import dev.stepwise.runtime.export.Seq2SeqTracer;
import dev.stepwise.runtime.export.Seq2SeqTracer.Graph;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqArchitecture;
import dev.stepwise.runtime.onnx.DedupWeightSink;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.passes.OpCounts;
import dev.stepwise.runtime.onnx.passes.StaticGraphOptimizer;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code unroll} for an encoder-decoder checkpoint: one static encoder graph ({@code encoder_model-opt.onnx}) for B rows
 * of L tokens (shorter inputs are right padded with the pad id and masked out by {@code attention_mask} /
 * {@code encoder_attention_mask}), and one static decoder graph per generation step: step 0 takes the start token
 * {@code [B, 1]}, the mask and {@code encoder_hidden_states [B, L, hidden]} and outputs logits and both caches' presents
 * (it computes the cross-attention cache); step s ≥ 1 takes one token, the mask, a self-attention past of s positions
 * and the cross cache, and outputs logits and the self-attention presents (optimum's decoder and decoder-with-past
 * contracts, with every dim fixed). Each graph is traced with concrete dims and goes through the same static passes as
 * a decoder-only unroll; all point into one weights file that holds each weight once. The chain is then checked against
 * the dynamic set (encoder and single decoder) traced from the same checkpoint.
 */
final class Seq2SeqUnroller {
    static final String ENCODER_FILE = "encoder_model-opt.onnx";
    /** The dynamic encoder the static one is checked against; in the folder only until the check is done. */
    private static final String DYNAMIC_ENCODER = ".dynamic-encoder.onnx";

    private Seq2SeqUnroller() {
    }

    static UnrollResult unroll(Seq2SeqArchitecture architecture, Path checkpointDir, Path outputDir,
                               UnrollOptions options) {
        String modelType = architecture.spec().modelType();
        if (options.lastTokenLogits()) {
            throw new StepwiseException("--last-token-logits applies to decoder-only unrolls: " + modelType + " is an"
                    + " encoder-decoder, whose decoder steps are fed one token and already return logits [B, 1, vocab]");
        }
        Path configFile = checkpointDir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        ModelConfig config = ModelConfig.of(configFile, json, architecture.spec().configKeys());
        int steps = options.stepCount();
        if (options.sequence() > config.maxPositions() || steps > config.maxPositions()) {
            throw new StepwiseException("encoder length " + options.sequence() + " or " + steps + " decoder steps exceed"
                    + " the model's " + config.maxPositions() + " positions");
        }
        // the architecture's opset is the lowest its forwards are written for
        int opset = Math.max(options.opset(), architecture.spec().opset());
        double atol = Double.isNaN(options.atol()) ? architecture.spec().atol() : options.atol();
        ProgressListener progress = options.progress();
        long started = System.nanoTime();
        int batch = options.batch();
        int length = options.sequence();

        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir); OutputFolder out = OutputFolder.create(outputDir)) {
            checkpoint.checkAgainst(Seq2SeqExporter.expectedWeights(architecture, config));
            Path dir = out.path();
            List<GenStep> genSteps = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                genSteps.add(GenStep.of(s, batch, 1));    // the decoder's prompt is the start token
            }
            List<List<Map<String, Integer>>> counts = new ArrayList<>();
            List<Long> sizes = new ArrayList<>();
            progress.stage("unroll", steps + 1);
            Map<String, Integer> dynamicDecoder;
            Map<String, Integer> dynamicEncoder;
            long stepWeightBytes;
            try (ExternalDataWriter data = new ExternalDataWriter(dir.resolve(Unroller.WEIGHTS_FILE))) {
                DedupWeightSink shared = new DedupWeightSink(data);
                sizes.add(writeStatic(architecture, config, checkpoint, Graph.ENCODER, opset, shared,
                        Seq2SeqAxes.fixed(batch, length, 0, 0), dir, ENCODER_FILE, modelType + "-encoder-opt", counts));
                progress.advance(1);
                for (GenStep step : genSteps) {
                    sizes.add(writeStatic(architecture, config, checkpoint,
                            step.isPrefill() ? Graph.DECODER : Graph.DECODER_WITH_PAST, opset, shared,
                            Seq2SeqAxes.fixed(batch, length, 1, step.past()), dir, step.fileName(),
                            modelType + "-gen-step-" + step.index(), counts));
                    progress.advance(1);
                }
                // As in the decoder-only unroll: the dynamic set goes through the same deduplicating sink, so it reads
                // the steps' weights; whatever only it has is appended and cut off after the check.
                stepWeightBytes = data.bytesWritten();
                ModelProto encoder = Seq2SeqTracer.trace(architecture, config, checkpoint, Graph.ENCODER, opset, shared,
                        DType.FLOAT, Seq2SeqAxes.dynamic(), modelType + "-encoder");
                ModelProto decoder = Seq2SeqTracer.trace(architecture, config, checkpoint, Graph.SINGLE_DECODER, opset,
                        shared, DType.FLOAT, Seq2SeqAxes.dynamic(), modelType + "-decoder");
                data.close();
                OnnxModelWriter.write(encoder, dir, DYNAMIC_ENCODER, Unroller.WEIGHTS_FILE, true);
                OnnxModelWriter.write(decoder, dir, Unroller.DYNAMIC_FILE, Unroller.WEIGHTS_FILE, true);
                dynamicEncoder = OpCounts.of(encoder);
                dynamicDecoder = OpCounts.of(decoder);
            }
            progress.done();
            UnrollReport report = new UnrollReport(modelType, options, dynamicDecoder);
            report.setEncoder(ENCODER_FILE, dynamicEncoder, counts.get(0).get(0), counts.get(0).get(1), sizes.get(0));
            for (int s = 0; s < steps; s++) {
                report.addStep(genSteps.get(s), counts.get(s + 1).get(0), counts.get(s + 1).get(1), sizes.get(s + 1));
            }
            Exporter.copySideFiles(checkpointDir, dir);
            UnrollManifest.write(dir.resolve(Unroller.MANIFEST_FILE), modelType, options, genSteps,
                    ENCODER_FILE);
            if (options.validate()) {
                List<StepCheck> checks = StepChainValidator.validateSeq2Seq(config, dir.resolve(DYNAMIC_ENCODER),
                        dir.resolve(Unroller.DYNAMIC_FILE), dir.resolve(ENCODER_FILE), dir, genSteps, length,
                        Seq2SeqModel.decoderStartTokenId(config), atol, progress);
                report.setChecks(checks);
                StepCheck failed = checks.stream().filter(c -> !c.passed()).findFirst().orElse(null);
                if (failed != null) {
                    throw new StepwiseException("unroll validation failed: " + failed.describe());
                }
            }
            Files.delete(dir.resolve(DYNAMIC_ENCODER));
            Files.delete(dir.resolve(Unroller.DYNAMIC_FILE));
            try (FileChannel weights = FileChannel.open(dir.resolve(Unroller.WEIGHTS_FILE), StandardOpenOption.WRITE)) {
                weights.truncate(stepWeightBytes);
            }
            report.setWeightsBytes(Files.size(dir.resolve(Unroller.WEIGHTS_FILE)));
            report.setSeconds((System.nanoTime() - started) / 1e9);
            report.write(dir.resolve(Unroller.REPORT_FILE));
            out.commit();
            return new UnrollResult(out.target(), genSteps, report);
        } catch (IOException e) {
            throw new StepwiseException(outputDir + ": " + e.getMessage(), e);
        }
    }

    /** Traces one graph with fixed dims, runs the static passes, writes it; records its op counts, returns its size. */
    private static long writeStatic(Seq2SeqArchitecture architecture, ModelConfig config, Checkpoint checkpoint,
                                    Graph graph, int opset, DedupWeightSink shared, Seq2SeqAxes axes, Path dir,
                                    String file, String name, List<List<Map<String, Integer>>> counts)
            throws IOException {
        ModelProto traced = Seq2SeqTracer.trace(architecture, config, checkpoint, graph, opset, shared, DType.FLOAT,
                axes, name);
        ModelProto optimized = StaticGraphOptimizer.optimize(traced, dir);
        Path written = OnnxModelWriter.write(optimized, dir, file, Unroller.WEIGHTS_FILE, true);
        counts.add(List.of(OpCounts.of(traced), OpCounts.of(optimized)));
        return Files.size(written);
    }
}
