package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.AxisSizes;
import dev.stepwise.runtime.export.DecoderTracer;
import dev.stepwise.runtime.export.DecoderTracer.CacheMode;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
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
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes one fully static graph per generation step ({@code decoder_model-opt_gen_step=s.onnx}) for compilers that
 * only take fixed shapes. Each step is traced with concrete dims, so no shape arithmetic is ever emitted; the graph
 * passes then fold constants, drop identities and dead nodes and record a fixed-dim value_info for every tensor. All
 * steps point into one weights file. At the end the chained steps are checked against the dynamic decoder. An
 * encoder-decoder checkpoint is unrolled by {@link Seq2SeqUnroller} (a static encoder and the decoder's steps).
 */
public final class Unroller {
    public static final String WEIGHTS_FILE = "decoder_model-opt.onnx_data";
    public static final String MANIFEST_FILE = "unroll.json";
    public static final String REPORT_FILE = "unroll-report.json";
    /** The dynamic decoder the steps are checked against; in the folder only until the check is done. */
    static final String DYNAMIC_FILE = ".dynamic-decoder.onnx";

    private Unroller() {
    }

    public static UnrollResult unroll(Path checkpointDir, Path outputDir, UnrollOptions options) {
        check(options);
        java.util.Optional<Seq2SeqArchitecture> seq2seq = Architectures.SEQ2SEQ.of(checkpointDir);
        if (seq2seq.isPresent()) {
            return Seq2SeqUnroller.unroll(seq2seq.get(), checkpointDir, outputDir, options);
        }
        ModelFolder folder = ModelFolder.read(checkpointDir);
        Architecture architecture = folder.architecture();
        ModelConfig config = folder.config();
        String modelType = architecture.spec().modelType();
        if (options.sequence() + options.stepCount() > config.maxPositions()) {
            throw new StepwiseException("sequence length " + options.sequence() + " + " + options.stepCount()
                    + " steps exceed the model's " + config.maxPositions() + " positions");
        }
        double atol = Double.isNaN(options.atol()) ? architecture.spec().atol() : options.atol();
        ProgressListener progress = options.progress();
        long started = System.nanoTime();

        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir); OutputFolder out = OutputFolder.create(outputDir)) {
            checkpoint.checkAgainst(architecture.newModel().expectedWeights(config));
            Path dir = out.path();

            List<GenStep> steps = new ArrayList<>();
            for (int s = 0; s < options.stepCount(); s++) {
                steps.add(GenStep.of(s, options.batch(), options.sequence()));
            }
            List<List<Map<String, Integer>>> stepCounts = new ArrayList<>();
            List<Long> stepSizes = new ArrayList<>();
            progress.stage("unroll", steps.size());
            ModelProto dynamic;
            long stepWeightBytes;
            try (ExternalDataWriter data = new ExternalDataWriter(dir.resolve(WEIGHTS_FILE))) {
                DedupWeightSink shared = new DedupWeightSink(data);
                for (GenStep step : steps) {
                    ModelProto traced = DecoderTracer.trace(architecture, config, checkpoint,
                            step.isPrefill() ? CacheMode.PRESENT_ONLY : CacheMode.PAST_AND_PRESENT, options.opset(),
                            AxisSizes.fixed(step.batch(), step.sequence(), step.past()), shared, true,
                            options.lastTokenLogits() && step.isPrefill(), modelType + "-gen-step-" + step.index());
                    ModelProto optimized = StaticGraphOptimizer.optimize(traced, dir);
                    Path file = OnnxModelWriter.write(optimized, dir, step.fileName(), WEIGHTS_FILE, true);
                    stepCounts.add(List.of(OpCounts.of(traced), OpCounts.of(optimized)));
                    stepSizes.add(Files.size(file));
                    progress.advance(1);
                }
                // The dynamic decoder (the "before" of the report, and the reference the steps are checked against)
                // goes through the same deduplicating sink, so it reads the steps' weights instead of a second copy;
                // whatever it has that no step has is appended after them and cut off once the check is done.
                stepWeightBytes = data.bytesWritten();
                dynamic = DecoderTracer.trace(architecture, config, checkpoint, CacheMode.PAST_AND_PRESENT, options.opset(),
                        AxisSizes.dynamic(), shared, false, false, modelType + "-decoder");
                data.close();
                OnnxModelWriter.write(dynamic, dir, DYNAMIC_FILE, WEIGHTS_FILE, true);
            }
            UnrollReport report = new UnrollReport(modelType, options, OpCounts.of(dynamic));
            for (int s = 0; s < steps.size(); s++) {
                report.addStep(steps.get(s), stepCounts.get(s).get(0), stepCounts.get(s).get(1), stepSizes.get(s));
            }
            progress.done();
            Exporter.copySideFiles(checkpointDir, dir);
            UnrollManifest.write(dir.resolve(MANIFEST_FILE), modelType, options, steps, null);

            if (options.validate()) {
                List<StepCheck> checks = StepChainValidator.validate(architecture.spec(), config,
                        dir.resolve(DYNAMIC_FILE), dir, steps, atol, progress);
                report.setChecks(checks);
                StepCheck failed = checks.stream().filter(c -> !c.passed()).findFirst().orElse(null);
                if (failed != null) {
                    throw new StepwiseException("unroll validation failed: " + failed.describe());
                }
            }
            Files.delete(dir.resolve(DYNAMIC_FILE));
            try (FileChannel weights = FileChannel.open(dir.resolve(WEIGHTS_FILE), StandardOpenOption.WRITE)) {
                weights.truncate(stepWeightBytes);
            }
            report.setWeightsBytes(Files.size(dir.resolve(WEIGHTS_FILE)));
            report.setSeconds((System.nanoTime() - started) / 1e9);
            report.write(dir.resolve(REPORT_FILE));
            out.commit();
            return new UnrollResult(out.target(), steps, report);
        } catch (IOException e) {
            throw new StepwiseException(outputDir + ": " + e.getMessage(), e);
        }
    }

    private static void check(UnrollOptions o) {
        if (o.batch() < 1) {
            throw new StepwiseException("--batch-size must be at least 1, got " + o.batch());
        }
        if (o.sequence() < 1) {
            throw new StepwiseException("--sequence-length must be at least 1, got " + o.sequence());
        }
        if (o.maxNewTokens() < 1) {
            throw new StepwiseException("--max-new-tokens must be at least 1, got " + o.maxNewTokens());
        }
        if (o.opset() < 13 || o.opset() > 22) {
            throw new StepwiseException("opset " + o.opset() + " is not supported for step graphs (13..22)");
        }
    }
}
