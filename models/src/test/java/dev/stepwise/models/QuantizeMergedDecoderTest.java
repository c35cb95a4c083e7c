package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.Quantizer;
import dev.stepwise.runtime.tensor.Argmax;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * An optimum-style folder with a merged decoder ({@code decoder_model_merged.onnx}: an {@code If} on
 * {@code use_cache_branch}, weights in the outer graph shared by both branches, beside the plain decoder and one
 * weights file) quantized in one command: the merged file keeps its two branches, loads in ONNX Runtime, and its
 * no-cache branch gives mostly the float model's next tokens on the trained fixture.
 */
class QuantizeMergedDecoderTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = QuantizeMode.class, names = {"INT8", "INT4"})
    void mergedDecoderIsQuantizedAndRuns(QuantizeMode mode) throws Exception {
        Path folder = Exporter.export(Fixtures.path("pylm-llama-trained"), tmp.resolve("optimum"),
                ExportOptions.defaults().withValidate(false)).outputDir();
        Path merged = folder.resolve("decoder_model_merged.onnx");
        Files.write(merged, SimplifyGpt2ExportTest.merge(OnnxModelReader.load(folder.resolve("model.onnx")).model())
                .toByteArray());
        Path out = Quantizer.quantize(folder, tmp.resolve("quantized"), QuantizeOptions.defaults(mode)).outputDir();

        Map<String, Integer> ops = OnnxModelReader.load(out.resolve("decoder_model_merged.onnx")).opCounts();
        assertEquals(1, ops.get("If"), ops.toString());
        long[] ids = {1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100};
        float[] expected = logits(merged, ids);
        float[] actual = logits(out.resolve("decoder_model_merged.onnx"), ids);
        int vocab = expected.length / ids.length;
        int agree = 0;
        for (int t = 0; t < ids.length; t++) {
            agree += Argmax.of(expected, t * vocab, vocab) == Argmax.of(actual, t * vocab, vocab) ? 1 : 0;
        }
        System.out.printf("merged decoder %s: next token agrees at %d of %d positions%n", mode.cliName(), agree, ids.length);
        assertTrue(agree >= ids.length - 2, mode + ": " + agree + " of " + ids.length);
    }

    /** Logits of the no-cache branch (use_cache_branch false, empty past inputs) for one row. */
    static float[] logits(Path file, long[] ids) throws Exception {
        OrtEnvironment env = OrtSessions.environment();
        try (OrtSession s = OrtSessions.open(file, 1)) {
            Map<String, OnnxTensor> feed = new HashMap<>();
            long[] positions = new long[ids.length];
            long[] mask = new long[ids.length];
            for (int i = 0; i < ids.length; i++) {
                positions[i] = i;
                mask[i] = 1;
            }
            feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length}));
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, ids.length}));
            feed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, ids.length}));
            feed.put("use_cache_branch", OnnxTensor.createTensor(env, new boolean[] {false}));
            for (String name : s.getInputNames()) {
                if (name.startsWith("past_key_values")) {
                    long[] shape = ((ai.onnxruntime.TensorInfo) s.getInputInfo().get(name).getInfo()).getShape();
                    feed.put(name, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), new long[] {1, shape[1], 0, shape[3]}));
                }
            }
            try (OrtSession.Result r = s.run(feed)) {
                FloatBuffer b = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                float[] out = new float[b.remaining()];
                b.get(out);
                return out;
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }
}
