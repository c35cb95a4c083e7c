package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --dtype fp16} export of the fp16 checkpoint {@code llama-tiny-random-fp16}: the graph keeps half precision
 * (fp16 past, presents, logits and weights, the checkpoint's fp16 bytes copied as stored), validates against the
 * float32 PyTorch reference, and agrees with the onnxruntime-genai model builder's fp16 graph of the same weights
 * (logits within fp16 rounding at prefill and decode steps, the same greedy tokens).
 */
class LlamaFixtureHalfTest {
    @TempDir
    static Path tmp;
    static ExportResult half;
    static ExportResult full;

    @BeforeAll
    static void exportBoth() {
        half = LlamaExporter.run(Fixtures.path("llama-tiny-random-fp16"), tmp.resolve("llama-fp16"),
                ExportOptions.defaults().withDtype(DType.FLOAT16));
        full = LlamaExporter.run(Fixtures.path("llama-tiny-random-fp16"), tmp.resolve("llama-fp32"),
                ExportOptions.defaults().withValidate(false));
    }

    @Test
    void validatesAgainstFloat32ReferenceWithinRelativeTolerance() {
        ExportChecks.assertValidated("llama-tiny-random-fp16 --dtype fp16", half, 3);
        for (ValidationCase c : half.validation()) {
            assertEquals(ExportOptions.FLOAT16_RTOL, c.rtol(), c.name());
            assertTrue(c.argmaxCompared() > 0, c.name() + ": greedy choice compared at some position");
            System.out.printf("  %s: worst %.3g relative, greedy token agrees at %d/%d clear positions%n", c.name(),
                    c.worstRelative(), c.argmaxAgreed(), c.argmaxCompared());
        }
    }

    @Test
    void graphKeepsHalfPrecision() {
        OnnxModelReader model = OnnxModelReader.load(half.modelFile());
        for (ValueInfoProto v : model.inputs()) {
            int expected = v.getName().startsWith("past_key_values") ? TensorProto.DataType.FLOAT16_VALUE
                    : TensorProto.DataType.INT64_VALUE;
            assertEquals(expected, v.getType().getTensorType().getElemType(), v.getName());
        }
        for (ValueInfoProto v : model.outputs()) {
            assertEquals(TensorProto.DataType.FLOAT16_VALUE, v.getType().getTensorType().getElemType(), v.getName());
        }
        int weights = 0;
        for (TensorProto t : model.initializers()) {
            if (t.getName().startsWith("model.") || t.getName().startsWith("lm_head")) {
                assertEquals(TensorProto.DataType.FLOAT16_VALUE, t.getDataType(), t.getName());
                weights++;
            }
        }
        assertEquals(2 + 2 * 9 + 1, weights, "every weight is an fp16 initializer");
        double ratio = (double) half.weightBytes() / full.weightBytes();
        System.out.printf("weights: fp16 %d bytes, fp32 %d bytes (%.3f)%n", half.weightBytes(), full.weightBytes(), ratio);
        assertTrue(ratio > 0.49 && ratio < 0.51, "fp16 weights take half the bytes of fp32 ones: " + ratio);
        JsonObject manifest = ModelConfig.readJson(half.outputDir().resolve(Exporter.MANIFEST_FILE));
        assertEquals("fp16", manifest.get("dtype").getAsString());
        assertEquals("fp32", ModelConfig.readJson(full.outputDir().resolve(Exporter.MANIFEST_FILE)).get("dtype").getAsString());
    }

    @Test
    void fp16WeightsAreCopiedAsStored() {
        OnnxModelReader model = OnnxModelReader.load(half.modelFile());
        try (Checkpoint checkpoint = Checkpoint.open(Fixtures.path("llama-tiny-random-fp16"))) {
            TensorProto embed = initializer(model, "model.embed_tokens.weight");
            assertEquals(checkpoint.raw("model.embed_tokens.weight"), model.data(embed).order(ByteOrder.LITTLE_ENDIAN),
                    "embedding bytes");
            // a linear weight is stored transposed: element [i, j] of the initializer is [j, i] of the checkpoint
            String name = "model.layers.0.mlp.down_proj.weight";
            long[] shape = checkpoint.shape(name);
            TensorProto transposed = model.initializers().stream().filter(t -> t.getName().startsWith(name))
                    .findFirst().orElseThrow();
            assertEquals(List.of(shape[1], shape[0]), transposed.getDimsList());
            ShortBuffer stored = checkpoint.raw(name).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
            ShortBuffer written = model.data(transposed).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
            for (int i = 0; i < shape[1]; i++) {
                for (int j = 0; j < shape[0]; j++) {
                    assertEquals(stored.get((int) (j * shape[1] + i)), written.get((int) (i * shape[0] + j)),
                            name + " [" + j + ", " + i + "]");
                }
            }
        }
    }

    @Test
    void prefillAndDecodeLogitsMatchUpstreamFp16Graph() throws Exception {
        try (UpstreamLlama upstream = new UpstreamLlama(); Stepper ours = new Stepper(half.modelFile())) {
            float[] expected = upstream.step(LlamaFixtureTest.PROMPT);
            float[] actual = ours.step(LlamaFixtureTest.PROMPT);
            LlamaFixtureTest.assertWithinHalfRounding("fp16 graph, prefill logits", expected, actual);
            long next = UpstreamLlama.argmax(actual, LlamaFixtureTest.PROMPT.length - 1);
            for (int step = 1; step <= 3; step++) {
                expected = upstream.step(new long[] {next});
                actual = ours.step(new long[] {next});
                LlamaFixtureTest.assertWithinHalfRounding("fp16 graph, decode step " + step + " logits", expected, actual);
                next = UpstreamLlama.argmax(actual, 0);
            }
        }
    }

    @Test
    void greedyTokensMatchUpstreamFp16Graph() throws Exception {
        int newTokens = 16;
        long[] expected;
        try (UpstreamLlama upstream = new UpstreamLlama()) {
            expected = upstream.greedy(LlamaFixtureTest.PROMPT, newTokens);
        }
        try (ExportedModel model = ExportedModel.open(half.outputDir(), 1)) {
            assertEquals(ai.onnxruntime.OnnxJavaType.FLOAT16, model.cacheType());
            long[] actual = new Generator(model).greedy(List.of(LlamaFixtureTest.PROMPT), newTokens).get(0);
            System.out.println("fp16 greedy tokens: " + Arrays.toString(actual));
            assertArrayEquals(expected, actual, "greedy tokens of the fp16 export vs the upstream graph: "
                    + Arrays.toString(actual) + " vs " + Arrays.toString(expected));
        }
    }

    @Test
    void paddedBatchGivesEachRowsOwnTokens() {
        List<long[]> prompts = List.of(LlamaFixtureTest.PROMPT, new long[] {4, 8, 15}, new long[] {16, 23, 42, 108, 7});
        ExportChecks.assertPaddedBatchGivesEachRowsOwnTokens(half.outputDir(), prompts, 12);
    }

    private static TensorProto initializer(OnnxModelReader model, String name) {
        return model.initializers().stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow();
    }

    /** A graph run batch 1 one call at a time, past kept as host floats (converted to the graph's types by OrtRunner). */
    static final class Stepper implements AutoCloseable {
        private final OrtSession session;
        private final Map<String, HostTensor> past = new LinkedHashMap<>();
        private int pastLength;

        Stepper(Path modelFile) {
            session = OrtSessions.open(modelFile, 1);
            for (int l = 0; l < UpstreamLlama.LAYERS; l++) {
                for (String kind : new String[] {"key", "value"}) {
                    past.put("past_key_values." + l + "." + kind, HostTensor.ofFloats(new float[0],
                            1, UpstreamLlama.KV_HEADS, 0, UpstreamLlama.HEAD_DIM));
                }
            }
        }

        float[] step(long[] ids) {
            int s = ids.length;
            int total = pastLength + s;
            long[] positions = new long[s];
            for (int i = 0; i < s; i++) {
                positions[i] = pastLength + i;
            }
            long[] mask = new long[total];
            Arrays.fill(mask, 1);
            Map<String, HostTensor> feed = new LinkedHashMap<>(past);
            feed.put("input_ids", HostTensor.ofLongs(ids, 1, s));
            feed.put("attention_mask", HostTensor.ofLongs(mask, 1, total));
            feed.put("position_ids", HostTensor.ofLongs(positions, 1, s));
            Map<String, HostTensor> out = OrtRunner.run(session, feed);
            for (String name : past.keySet()) {
                past.put(name, out.get(name.replace("past_key_values", "present")));
            }
            pastLength = total;
            return out.get("logits").floats();
        }

        @Override
        public void close() throws Exception {
            session.close();
        }
    }
}
