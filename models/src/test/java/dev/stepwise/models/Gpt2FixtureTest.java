package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stepwise's GPT-2 export of {@code gpt2-tiny-random} against onnxruntime's own export of the same weights:
 * same ids → logits within 1e-4 at prefill and at a decode step, and the same greedy tokens.
 */
class Gpt2FixtureTest {
    static final double LOGITS_ATOL = 1e-4;
    static final long[] PROMPT = {0, 0, 0, 52, 7, 300, 11, 999, 98, 5};

    @TempDir
    static Path tmp;
    static ExportResult export;

    @BeforeAll
    static void exportFixture() {
        export = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-tiny"));
    }

    @Test
    void exportValidatesAgainstPyTorchReference() {
        assertTrue(export.validation().size() >= 3, "prefill, past and decode cases ran");
        for (ValidationCase c : export.validation()) {
            assertTrue(c.passed(), c.name() + ": " + c.maxAbsDiff());
        }
    }

    @Test
    void prefillAndDecodeLogitsMatchUpstreamGraph() throws Exception {
        OrtEnvironment env = OrtSessions.environment();
        try (UpstreamGpt2 upstream = new UpstreamGpt2();
             OrtSession ours = OrtSessions.open(export.modelFile(), 1)) {
            float[] upstreamPrefill = upstream.step(PROMPT);
            Map<String, OnnxTensor> feed = new HashMap<>();
            int s = PROMPT.length;
            long[] positions = new long[s];
            long[] mask = new long[s];
            for (int i = 0; i < s; i++) {
                positions[i] = i;
                mask[i] = 1;
            }
            feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(PROMPT), new long[] {1, s}));
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, s}));
            feed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, s}));
            for (int l = 0; l < UpstreamGpt2.LAYERS; l++) {
                for (String kind : new String[] {"key", "value"}) {
                    feed.put("past_key_values." + l + "." + kind, OnnxTensor.createTensor(env, FloatBuffer.allocate(0),
                            new long[] {1, UpstreamGpt2.HEADS, 0, UpstreamGpt2.HEAD_DIM}));
                }
            }
            try (OrtSession.Result prefill = ours.run(feed)) {
                feed.values().forEach(OnnxTensor::close);
                float[] oursPrefill = floats(prefill.get("logits").orElseThrow());
                assertClose("prefill logits", upstreamPrefill, oursPrefill);

                long next = UpstreamGpt2.argmax(oursPrefill, s - 1);
                float[] upstreamDecode = upstream.step(new long[] {next});
                Map<String, OnnxTensor> decodeFeed = new HashMap<>();
                long[] mask2 = new long[s + 1];
                java.util.Arrays.fill(mask2, 1);
                decodeFeed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {next}), new long[] {1, 1}));
                decodeFeed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask2), new long[] {1, s + 1}));
                decodeFeed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {s}), new long[] {1, 1}));
                List<OnnxTensor> created = List.copyOf(decodeFeed.values());
                for (int l = 0; l < UpstreamGpt2.LAYERS; l++) {
                    for (String kind : new String[] {"key", "value"}) {
                        decodeFeed.put("past_key_values." + l + "." + kind,
                                (OnnxTensor) prefill.get("present." + l + "." + kind).orElseThrow());
                    }
                }
                try (OrtSession.Result decode = ours.run(decodeFeed)) {
                    assertClose("decode-step logits", upstreamDecode, floats(decode.get("logits").orElseThrow()));
                } finally {
                    created.forEach(OnnxTensor::close);
                }
            }
        }
    }

    @Test
    void greedyTokensMatchUpstreamGraph() throws Exception {
        int newTokens = 16;
        long[] expected;
        try (UpstreamGpt2 upstream = new UpstreamGpt2()) {
            expected = upstream.greedy(PROMPT, newTokens, 98);
        }
        try (ExportedModel model = ExportedModel.open(export.outputDir(), 1)) {
            long[] actual = new Generator(model).greedy(List.of(PROMPT), newTokens).get(0);
            assertArrayEquals(expected, actual, "greedy tokens of Stepwise's export vs the upstream graph");
        }
    }

    @Test
    void paddedBatchGivesEachRowsOwnTokens() {
        List<long[]> prompts = List.of(PROMPT, new long[] {4, 8, 15}, new long[] {16, 23, 42, 108, 7});
        try (ExportedModel model = ExportedModel.open(export.outputDir(), 1)) {
            Generator generator = new Generator(model);
            List<long[]> batch = generator.greedy(prompts, 10);
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(generator.greedy(List.of(prompts.get(r)), 10).get(0), batch.get(r), "row " + r);
            }
        }
    }

    static float[] floats(ai.onnxruntime.OnnxValue v) {
        FloatBuffer b = ((OnnxTensor) v).getFloatBuffer();
        float[] a = new float[b.remaining()];
        b.get(a);
        return a;
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertTrue(expected.length == actual.length, what + ": " + expected.length + " vs " + actual.length + " values");
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= LOGITS_ATOL, what + ": max abs diff " + worst + " > " + LOGITS_ATOL);
    }
}
