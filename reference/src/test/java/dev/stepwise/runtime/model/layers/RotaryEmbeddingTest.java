package dev.stepwise.runtime.model.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.annotations.DType;
import dev.stepwise.reference.TorchOps;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rotary embeddings: inverse frequencies of every scaling against the formulas worked out independently (in double),
 * the rotation itself against hand-computed values, the dynamic graph against the Java constants, config errors.
 */
class RotaryEmbeddingTest {
    private static final ConfigKeyMap KEYS = new ConfigKeyMap("num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_size", "vocab_size", "max_position_embeddings", "eos_token_id",
            "bos_token_id", "pad_token_id");

    @TempDir
    Path tmp;

    /** {@code theta ^ (-2i / dim)} in double. */
    private static double plain(double theta, int dim, int i) {
        return Math.pow(theta, -2.0 * i / dim);
    }

    private static void assertClose(double expected, float actual, String what) {
        assertEquals(expected, actual, 2e-6 * Math.abs(expected), what);
    }

    @Test
    void plainFrequenciesArePowersOfTheta() {
        float[] inv = RotaryEmbedding.plain(8, 10000).inverseFrequencies(5);
        assertArrayEquals(new float[] {1f, 0.1f, 0.01f, 0.001f}, inv, 1e-9f);
        float[] headDim64 = RotaryEmbedding.plain(64, 500000).inverseFrequencies(5);
        assertEquals(32, headDim64.length);
        for (int i = 0; i < 32; i++) {
            assertClose(plain(500000, 64, i), headDim64[i], "i=" + i);
        }
    }

    @Test
    void linearScalingDividesEveryFrequencyByTheFactor() {
        float[] inv = RotaryEmbedding.linear(16, 10000, 4.0).inverseFrequencies(100);
        for (int i = 0; i < 8; i++) {
            assertClose(plain(10000, 16, i) / 4, inv[i], "i=" + i);
        }
    }

    @Test
    void llama3KeepsHighFrequenciesScalesLowOnesAndBlendsTheBandBetween() {
        // dim 16, theta 1e4: wavelengths 2π·10^(i/2) = 6.3, 19.9, 62.8, 198.7, 628, ...; original context 256 with
        // low/high factors 1/4 puts the band edges at 256 and 64: i ≤ 2 kept, i = 3 blended, i ≥ 4 divided by 8.
        float[] inv = RotaryEmbedding.llama3(16, 10000, 8.0, 1.0, 4.0, 256).inverseFrequencies(10);
        for (int i = 0; i <= 2; i++) {
            assertClose(plain(10000, 16, i), inv[i], "high frequency " + i);
        }
        double f3 = plain(10000, 16, 3);
        double wavelength = 2 * Math.PI / f3;                        // 198.69
        double smooth = (256 / wavelength - 1) / (4 - 1);            // 0.0961
        assertEquals(0.0961, smooth, 1e-4);
        assertClose((1 - smooth) * f3 / 8 + smooth * f3, inv[3], "blended frequency 3");
        for (int i = 4; i < 8; i++) {
            assertClose(plain(10000, 16, i) / 8, inv[i], "low frequency " + i);
        }
    }

    @Test
    void dynamicScalingStartsBeyondMaxPositionsAndRescalesTheBase() {
        RotaryEmbedding rope = RotaryEmbedding.dynamic(16, 10000, 2.0, 32);
        float[] atMax = rope.inverseFrequencies(32);
        for (int i = 0; i < 8; i++) {
            assertClose(plain(10000, 16, i), atMax[i], "length 32, i=" + i);
        }
        // length 64: base = 1e4 · (2·64/32 − 1)^(16/14) = 1e4 · 3^(8/7)
        double base = 10000 * Math.pow(3, 16.0 / 14);
        float[] at64 = rope.inverseFrequencies(64);
        for (int i = 0; i < 8; i++) {
            assertEquals(Math.pow(base, -2.0 * i / 16), at64[i], 1e-5 * Math.pow(base, -2.0 * i / 16), "length 64, i=" + i);
        }
        assertTrue(at64[7] < atMax[7] * 0.9, "the lowest frequency slows down beyond max positions");
    }

    @Test
    void dynamicGraphComputesTheSameFrequenciesAsJavaForEveryLength() throws Exception {
        RotaryEmbedding rope = RotaryEmbedding.dynamic(16, 10000, 2.0, 32);
        GraphBuilder graph = new GraphBuilder("rope", 14);
        Path data = tmp.resolve("model.onnx_data");
        try (ExternalDataWriter sink = new ExternalDataWriter(data)) {
            TracingOps ops = new TracingOps(graph, new MapWeightSource(), sink);
            Tensor mask = ops.input("attention_mask", DType.INT64, List.of("batch_size", "total_sequence_length"));
            Dim total = ops.dim(mask, 1);
            assertTrue(!total.isKnown());
            ops.output("inv_freq", rope.inverseFrequencies(ops, total));
        }
        Path model = OnnxModelWriter.write(graph.build(true), tmp, "model.onnx", "model.onnx_data", false);
        try (OrtSession session = OrtSessions.open(model, 1)) {
            for (int length : new int[] {1, 20, 32, 33, 40, 64, 500}) {
                try (OnnxTensor m = OnnxTensor.createTensor(OrtSessions.environment(),
                        LongBuffer.wrap(new long[length]), new long[] {1, length});
                     OrtSession.Result r = session.run(Map.of("attention_mask", m))) {
                    float[] graphInv = OrtTensors.toHostFloats((OnnxTensor) r.get(0)).floats();
                    float[] javaInv = rope.inverseFrequencies(length);
                    for (int i = 0; i < javaInv.length; i++) {
                        assertEquals(javaInv[i], graphInv[i], 2e-6 * javaInv[i], "length " + length + ", i=" + i);
                    }
                }
            }
        }
    }

    @Test
    void rotationMatchesHandComputedValues() {
        // dim 4, theta 100: inv_freq [1, 0.1]; angles at position p are [p, 0.1p, p, 0.1p].
        RotaryEmbedding rope = RotaryEmbedding.plain(4, 100);
        float[] x = {1, 2, 3, 4, -0.5f, 0.25f, 2, -1};              // [1, 1, 2, 4]: two positions of one head
        long[] positions = {3, 7};
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor input = ops.input(HostTensor.ofFloats(x, 1, 1, 2, 4));
            Tensor ids = ops.input(HostTensor.ofLongs(positions, 1, 2));
            RotaryEmbedding.CosSin cs = rope.cosSin(ops, ids, Dim.of(2));
            float[] actual = ops.toHost(rope.apply(ops, input, cs)).floats();
            for (int s = 0; s < 2; s++) {
                double p = positions[s];
                double[] angle = {p, 0.1 * p, p, 0.1 * p};
                double[] v = new double[4];
                for (int d = 0; d < 4; d++) {
                    v[d] = x[s * 4 + d];
                }
                double[] rotated = {-v[2], -v[3], v[0], v[1]};
                for (int d = 0; d < 4; d++) {
                    double expected = v[d] * Math.cos(angle[d]) + rotated[d] * Math.sin(angle[d]);
                    assertEquals(expected, actual[s * 4 + d], 1e-5, "position " + p + ", dim " + d);
                }
            }
        }
    }

    @Test
    void readsScalingFromConfigInBothSpellings() {
        RotaryEmbedding linear = fromConfig("\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.0}");
        assertEquals(RotaryEmbedding.Scaling.LINEAR, linear.scaling());
        RotaryEmbedding dynamic = fromConfig("\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}");
        assertEquals(RotaryEmbedding.Scaling.DYNAMIC, dynamic.scaling());
        RotaryEmbedding llama3 = fromConfig("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                + "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}");
        assertEquals(RotaryEmbedding.Scaling.LLAMA3, llama3.scaling());
        assertEquals(RotaryEmbedding.Scaling.NONE, fromConfig("\"rope_scaling\": null").scaling());
        RotaryEmbedding v5 = fromConfig(
                "\"head_dim\": 4, \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 100.0}");
        assertArrayEquals(new float[] {1f, 0.1f}, v5.inverseFrequencies(1), 1e-7f);
        RotaryEmbedding headDim = fromConfig("\"head_dim\": 8");
        assertEquals(8, headDim.dim());
        assertEquals(16, fromConfig("\"rope_theta\": 500000.0").dim());
    }

    @Test
    void unsupportedScalingIsAnErrorNamingTheFileAndKey() {
        StepwiseException yarn = assertThrows(StepwiseException.class,
                () -> fromConfig("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"));
        assertTrue(yarn.getMessage().contains("config.json: rope_scaling type 'yarn' is not supported"), yarn.getMessage());
        StepwiseException noFactor = assertThrows(StepwiseException.class,
                () -> fromConfig("\"rope_scaling\": {\"rope_type\": \"linear\"}"));
        assertTrue(noFactor.getMessage().endsWith("config.json: rope_scaling needs a 'factor'"), noFactor.getMessage());
        StepwiseException llama3 = assertThrows(StepwiseException.class,
                () -> fromConfig("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"));
        assertTrue(llama3.getMessage().contains("low_freq_factor"), llama3.getMessage());
        StepwiseException partial = assertThrows(StepwiseException.class, () -> fromConfig("\"partial_rotary_factor\": 0.5"));
        assertTrue(partial.getMessage().contains("partial_rotary_factor"), partial.getMessage());
    }

    /** A 4-head, hidden-64 config (head dim 16) with extra keys. */
    private RotaryEmbedding fromConfig(String extra) {
        String json = "{\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"hidden_size\": 64, \"vocab_size\": 10, "
                + "\"max_position_embeddings\": 128, " + extra + "}";
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        return RotaryEmbedding.fromConfig(ModelConfig.of(tmp.resolve("config.json"), o, KEYS));
    }
}
