package dev.stepwise.runtime.quantize;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Calibration for {@code --mode int8-static}: runs the float model(s) in ONNX Runtime on the calibration inputs with
 * the first input of every MatMul and Gemm that {@link StaticQdqRewriter} will quantize added as a graph output (on a
 * temporary copy of each graph, beside links to the weights), and hands every value to {@link ActivationRanges}.
 *
 * <p>An unrolled folder is calibrated as one: its step chain runs on windows of the inputs (step 0 the prefill, each
 * later step fed the previous presents, see {@link StepChain}), and the observations of every step graph are pooled
 * by tensor name, so every step gets one set of scales. Otherwise each graph the quality gate can feed (a decoder with
 * {@code input_ids} and no past, an encoder) runs on the inputs one row at a time (windows of its [B, L] when static);
 * loop and search graphs are not run: their decoder has the main decoder's tensor names, so it takes those ranges.
 */
final class Calibrator {
    private Calibrator() {
    }

    static ActivationRanges calibrate(Path input, List<Path> models, Path sourceDir, QuantizeOptions options, Path work) {
        StaticQdqOptions qdq = options.qdq();
        ActivationRanges ranges = new ActivationRanges(qdq);
        List<long[]> rows = CalibrationInputs.rows(qdq.calibration(), sourceDir);
        try {
            Files.createDirectories(work);
            linkSideFiles(sourceDir, work);
            boolean unrolled = Files.isDirectory(input) && UnrollManifest.readIfPresent(input) != null;
            for (Path m : models) {
                OnnxModelReader r = OnnxModelReader.load(m);
                Set<String> targets = StaticQdqRewriter.activations(r, options.keepFloat());
                Files.write(work.resolve(m.getFileName()), augment(r.model(), targets).toByteArray());
            }
            if (unrolled) {
                try (StepGraphs graphs = StepGraphs.open(work, options.threads())) {
                    for (long[][] window : StepChain.windows(rows, graphs, "--calibration")) {
                        StepChain.run(graphs, window, (step, out) -> observe(out, ranges));
                    }
                }
            } else {
                for (Path m : models) {
                    runOne(work.resolve(m.getFileName()), rows, options, ranges);
                }
            }
        } catch (IOException e) {
            throw new StepwiseException(work + ": cannot prepare calibration: " + e.getMessage(), e);
        } finally {
            OutputFolder.deleteRecursively(work);
        }
        return ranges;
    }

    /**
     * For {@link Smoothing}: the max |x| per channel (last axis) of each of {@code targets} in {@code model}, run on
     * {@code rows} one at a time. A target seen with different channel counts is left out.
     */
    static Map<String, float[]> channelAbsMax(Path model, Set<String> targets, Path sourceDir, List<long[]> rows,
                                              QuantizeOptions options, Path work) {
        Map<String, float[]> max = new HashMap<>();
        Set<String> mixed = new java.util.HashSet<>();
        try {
            Files.createDirectories(work);
            linkSideFiles(sourceDir, work);
            Path file = work.resolve(model.getFileName());
            Files.write(file, augment(OnnxModelReader.load(model).model(), targets).toByteArray());
            try (OrtSession s = OrtSessions.open(file, options.threads())) {
                for (long[][] batch : QualityGate.batches(s, rows)) {
                    for (Map.Entry<String, HostTensor> e : OrtRunner.run(s, QualityGate.feed(s, batch)).entrySet()) {
                        if (!e.getKey().startsWith(PREFIX) || e.getValue().shape().length == 0) {
                            continue;
                        }
                        String name = e.getKey().substring(PREFIX.length());
                        float[] v = e.getValue().floats();
                        int c = (int) e.getValue().dim(e.getValue().shape().length - 1);
                        float[] m = max.computeIfAbsent(name, k -> new float[c]);
                        if (m.length != c) {
                            mixed.add(name);
                            continue;
                        }
                        for (int i = 0; i < v.length; i++) {
                            m[i % c] = Math.max(m[i % c], Math.abs(v[i]));
                        }
                    }
                }
            } catch (OrtException e) {
                throw new StepwiseException(model.getFileName() + ": ONNX Runtime failed in calibration: " + e.getMessage(), e);
            }
        } catch (IOException e) {
            throw new StepwiseException(work + ": cannot prepare calibration: " + e.getMessage(), e);
        } finally {
            OutputFolder.deleteRecursively(work);
        }
        max.keySet().removeAll(mixed);
        return max;
    }

    private static void runOne(Path file, List<long[]> rows, QuantizeOptions options, ActivationRanges ranges) {
        try (OrtSession s = OrtSessions.open(file, options.threads())) {
            String kind = QualityGate.kind(s);
            if (kind.equals("loaded")) {
                return;
            }
            for (long[][] batch : QualityGate.batches(s, rows)) {
                observe(OrtRunner.run(s, QualityGate.feed(s, batch)), ranges);
            }
        } catch (OrtException e) {
            throw new StepwiseException(file.getFileName() + ": ONNX Runtime failed in calibration: " + e.getMessage(), e);
        }
    }

    private static void observe(Map<String, HostTensor> outputs, ActivationRanges ranges) {
        for (Map.Entry<String, HostTensor> e : outputs.entrySet()) {
            if (e.getKey().startsWith(PREFIX)) {
                ranges.observe(e.getKey().substring(PREFIX.length()), e.getValue().floats());
            }
        }
    }

    /** Added outputs are named apart, so an activation that is already a graph output is observed too. */
    static final String PREFIX = "calibrate:";

    /** The model with an Identity-free extra output for each target: a node output can be a graph output directly. */
    private static ModelProto augment(ModelProto model, Set<String> targets) {
        GraphProto g = model.getGraph();
        Map<String, ValueInfoProto> types = new HashMap<>();
        Stream.of(g.getInputList(), g.getValueInfoList(), g.getOutputList()).flatMap(List::stream)
                .forEach(v -> types.put(v.getName(), v));
        GraphProto.Builder b = g.toBuilder();
        for (String t : targets) {
            // graph outputs must have distinct names from the value: a one-input Cast to float renames it
            String out = PREFIX + t;
            b.addNode(dev.stepwise.runtime.onnx.proto.Onnx.NodeProto.newBuilder().setOpType("Cast").setName(out)
                    .addInput(t).addOutput(out)
                    .addAttribute(dev.stepwise.runtime.onnx.Attributes.of("to", (long) TensorProto.DataType.FLOAT_VALUE)));
            ValueInfoProto known = types.get(t);
            b.addOutput(known != null ? known.toBuilder().setName(out).build()
                    : GraphBuilder.tensorInfo(out, TensorProto.DataType.FLOAT_VALUE, List.of()).toBuilder()
                            .clearType().setType(dev.stepwise.runtime.onnx.proto.Onnx.TypeProto.newBuilder()
                                    .setTensorType(dev.stepwise.runtime.onnx.proto.Onnx.TypeProto.Tensor.newBuilder()
                                            .setElemType(TensorProto.DataType.FLOAT_VALUE))).build());
        }
        return model.toBuilder().setGraph(b).build();
    }

    /** Links the source folder's weights and copies its small files (config, tokenizer, manifest) into {@code work}. */
    private static void linkSideFiles(Path sourceDir, Path work) throws IOException {
        try (Stream<Path> files = Files.list(sourceDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p) || name.endsWith(".onnx") || name.startsWith(".")) {
                    continue;
                }
                if (Files.size(p) > (1 << 20)) {
                    Files.createSymbolicLink(work.resolve(name), p.toAbsolutePath());
                } else {
                    Files.copy(p, work.resolve(name));
                }
            }
        }
    }
}
