package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.AxisSizes;
import dev.stepwise.runtime.export.DecoderTracer;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ReferenceRunner;
import dev.stepwise.runtime.export.Validator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The LLaMA forward traced with fixed dims (a gen-step graph) comes out without shape arithmetic and matches the
 * reference; with dynamic rope scaling it bakes the frequencies of its own total length, which agree with what the
 * dynamic decoder computes in its graph for the same length.
 */
class LlamaStaticGraphTest {
    private static final Set<String> SHAPE_OPS = Set.of("Shape", "Size", "ConstantOfShape", "Range");

    @TempDir
    static Path tmp;

    @Test
    void fixedDimsTraceHasNoShapeOpsAndMatchesReference() throws Exception {
        Path checkpoint = tmp.resolve("gqa");
        RandomCheckpoint.write("llama", "tiny-gqa", checkpoint, 5);
        checkStatic(checkpoint, 2, 6, 0, null);
        checkStatic(checkpoint, 2, 1, 6, null);
    }

    @Test
    void dynamicRopeStaticGraphBakesItsLengthAndAgreesWithDynamicDecoder() throws Exception {
        Path checkpoint = tmp.resolve("dynamic");
        RandomCheckpoint.write("llama", "tiny-dynamic", checkpoint, 5);       // max_position_embeddings 32
        ExportResult dynamicDecoder = LlamaExporter.run(checkpoint, tmp.resolve("dynamic-onnx"));
        checkStatic(checkpoint, 2, 1, 39, dynamicDecoder.modelFile());       // total 40: rescaled frequencies
        checkStatic(checkpoint, 1, 12, 0, dynamicDecoder.modelFile());       // total 12: plain frequencies
    }

    private static void checkStatic(Path checkpointDir, int batch, int sequence, int past, Path dynamicModel)
            throws Exception {
        Architecture architecture = new LlamaExporter();
        ModelConfig config = ModelConfig.read(checkpointDir.resolve("config.json"), architecture.spec().configKeys());
        Path dir = Files.createDirectories(tmp.resolve("static-" + checkpointDir.getFileName() + "-" + sequence + "-" + past));
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir)) {
            ModelProto model;
            try (ExternalDataWriter sink = new ExternalDataWriter(dir.resolve("model.onnx_data"))) {
                model = DecoderTracer.trace(architecture, config, checkpoint, Task.TEXT_GENERATION_WITH_PAST, 13,
                        AxisSizes.fixed(batch, sequence, past), sink, true);
            }
            for (NodeProto n : model.getGraph().getNodeList()) {
                assertFalse(SHAPE_OPS.contains(n.getOpType()), "fixed trace emitted " + n.getOpType());
            }
            Path file = OnnxModelWriter.write(model, dir, "model.onnx", "model.onnx_data", true);
            DummyInputs in = architecture.dummyInputs(config, batch, sequence, past, 3);
            Map<String, HostTensor> ours;
            try (OrtSession session = OrtSessions.open(file, 1)) {
                ours = Validator.runOrt(session, architecture, in);
            }
            try (ReferenceRunner reference = new ReferenceRunner(architecture, config, checkpoint)) {
                assertAllClose(reference.run(in, Task.TEXT_GENERATION_WITH_PAST), ours, architecture.spec().atol());
            }
            if (dynamicModel != null) {
                try (OrtSession session = OrtSessions.open(dynamicModel, 1)) {
                    assertAllClose(Validator.runOrt(session, architecture, in), ours, architecture.spec().atol());
                }
            }
        }
    }

    private static void assertAllClose(Map<String, HostTensor> expected, Map<String, HostTensor> actual, double atol) {
        assertEquals(expected.keySet(), actual.keySet());
        for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
            float[] a = e.getValue().floats();
            float[] b = actual.get(e.getKey()).floats();
            assertEquals(a.length, b.length, e.getKey());
            double worst = 0;
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
            }
            assertTrue(worst <= atol, e.getKey() + ": max abs diff " + worst + " > " + atol);
        }
    }
}
