package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.stepwise.cli.Main;
import dev.stepwise.runtime.onnx.passes.OpCounts;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.simplify.Simplifier;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code simplify} on onnxruntime-genai's tiny Llama (fp16, opset 14, MultiHeadAttention, RotaryEmbedding,
 * SkipSimplifiedLayerNormalization, its attention mask built from Shape arithmetic): B=2, L=8, N=4 gives four
 * Shape-free static step graphs sharing one copy of the weights, whose chained outputs match the original.
 */
class SimplifyLlamaFixtureTest {
    static final int B = 2;
    static final int L = 8;
    static final int N = 4;

    @TempDir
    static Path tmp;
    static Path source;
    static Simplifier.Result result;

    @BeforeAll
    static void simplify() {
        source = Fixtures.path("upstream-onnx/llama-tiny-random-fp16/model.onnx");
        result = Simplifier.run(source, tmp.resolve("llama-steps"), Simplifier.Options.of(B, L, N).withThreads(1));
    }

    @Test
    void writesOneStaticShapeFreeGraphPerStep() throws Exception {
        SimplifyAsserts.assertFolder(result, N);
        for (int s = 0; s < N; s++) {
            ModelProto m = SimplifyAsserts.assertStaticStep(result, s);
            long seq = s == 0 ? L : 1;
            long past = s == 0 ? 0 : L + s - 1;
            assertArrayEquals(new long[] {B, seq}, SimplifyAsserts.input(m, "input_ids").dims());
            assertArrayEquals(new long[] {B, seq}, SimplifyAsserts.input(m, "position_ids").dims());
            assertArrayEquals(new long[] {B, past + seq}, SimplifyAsserts.input(m, "attention_mask").dims());
            if (s == 0) {
                assertNull(SimplifyAsserts.input(m, "past_key_values.1.value"), "prefill reads no past");
            } else {
                assertArrayEquals(new long[] {B, 1, past, 16},
                        SimplifyAsserts.input(m, "past_key_values.1.value").dims());
            }
            assertArrayEquals(new long[] {B, seq, 32000}, SimplifyAsserts.output(m, "logits").dims());
            assertArrayEquals(new long[] {B, 1, past + seq, 16}, SimplifyAsserts.output(m, "present.0.key").dims());
        }
    }

    @Test
    void shapeArithmeticIsGoneAndTheComputeStays() {
        Map<String, Integer> before = result.sourceOps();
        assertEquals(9, before.get("Shape"));
        assertEquals(104, OpCounts.total(before));
        for (Simplifier.Step s : result.steps()) {
            Map<String, Integer> after = s.ops();
            assertTrue(OpCounts.total(after) <= 41, "step " + s.step() + ": " + after);
            assertEquals(15, after.get("MatMul"));
            assertEquals(2, after.get("com.microsoft.MultiHeadAttention"));
            assertEquals(4, after.get("com.microsoft.RotaryEmbedding"));
            assertFalse(after.containsKey("Concat") || after.containsKey("Reshape") || after.containsKey("Squeeze"),
                    after.toString());
        }
    }

    @Test
    void stepsShareOneCopyOfTheWeights() throws Exception {
        long sourceWeights = Files.size(source.resolveSibling("model.onnx.data"));
        assertEquals(Simplifier.WEIGHTS_FILE, result.weightsFile());
        assertTrue(result.weightsBytes() >= sourceWeights, "every weight copied");
        assertTrue(result.weightsBytes() < sourceWeights + 64 * 64, "and only once: " + result.weightsBytes());
        long graphs = result.steps().stream().mapToLong(Simplifier.Step::bytes).sum();
        assertTrue(graphs < 100_000, "step graphs are small: " + graphs);
    }

    @Test
    void verificationRanAtEveryStepWithinFp16Tolerance() throws Exception {
        assertEquals(1e-3, result.rtol());
        assertEquals(N, result.tokens().size());
        for (Simplifier.Step s : result.steps()) {
            assertTrue(s.maxAbsDiff().get("logits") <= 1e-3, s.maxAbsDiff().toString());
            assertTrue(s.maxAbsDiff().containsKey("present.1.value"));
        }
        String report = Files.readString(result.output().resolve(Simplifier.REPORT_FILE));
        assertTrue(report.contains("\"verified\": true") && report.contains("\"source_nodes\": 104"), report);
    }

    /** An independent look at gen step 0: the fixture prompt through the step graph and through the original. */
    @Test
    void prefillStepGivesTheOriginalsLogitsForTheFixturePrompt() throws Exception {
        long[] ids = {0, 0, 0, 52, 7, 300, 11, 999, 1, 2, 3, 4, 5, 6, 7, 8};
        OrtEnvironment env = OrtSessions.environment();
        try (OrtSession original = OrtSessions.open(source, 1);
             OrtSession step = OrtSessions.open(result.output().resolve(Simplifier.stepFileName(0)), 1)) {
            float[] want = logits(env, original, ids);
            float[] got = logits(env, step, ids);
            assertEquals(want.length, got.length);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-3 + 1e-3 * Math.abs(want[i]), "logit " + i);
            }
        }
    }

    private static float[] logits(OrtEnvironment env, OrtSession session, long[] ids) throws Exception {
        Map<String, OnnxTensor> feed = new HashMap<>();
        long[] mask = new long[ids.length];
        long[] positions = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            mask[i] = 1;
            positions[i] = i % L;
        }
        feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {B, L}));
        feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {B, L}));
        feed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {B, L}));
        for (String name : session.getInputNames()) {
            if (name.startsWith("past_key_values")) {
                ByteBuffer empty = ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
                feed.put(name, OnnxTensor.createTensor(env, empty, new long[] {B, 1, 0, 16}, OnnxJavaType.FLOAT16));
            }
        }
        try (OrtSession.Result r = session.run(feed)) {
            return OrtTensors.toHostFloats((OnnxTensor) r.get("logits").orElseThrow()).floats();
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static String inspect(Path file) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        try {
            assertEquals(0, Main.run("inspect", file.toString()));
        } finally {
            System.setOut(saved);
        }
        return out.toString();
    }

    @Test
    void inspectShowsTheOriginalsSymbolicDimsByName() {
        String text = inspect(source);
        assertTrue(text.contains("input_ids int64[batch_size, sequence_length]"), text);
        assertTrue(text.contains("past_key_values.0.key float16[batch_size, 1, past_sequence_length, 16]"), text);
        assertTrue(text.contains("static: no") && text.contains("13 shape ops"), text);
        assertTrue(text.contains("external data model.onnx.data"), text);
    }

    @Test
    void inspectReportsAStepGraphAsStatic() {
        String text = inspect(result.output().resolve(Simplifier.stepFileName(1)));
        assertTrue(text.contains("ai.onnx 14, com.microsoft 1"), text);
        assertTrue(text.contains("input_ids int64[2, 1]") && text.contains("logits float16[2, 1, 32000]"), text);
        assertTrue(text.contains("static: yes"), text);
        assertTrue(text.contains("external data model.onnx_data"), text);
    }
}
