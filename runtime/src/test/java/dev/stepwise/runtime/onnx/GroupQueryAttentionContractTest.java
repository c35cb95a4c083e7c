package dev.stepwise.runtime.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.assertClose;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.concat;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.input;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.maxDiff;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.random;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.tail;

import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.tensor.HostTensor;
import ai.onnxruntime.OnnxTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link OrtFusions} relies on in ONNX Runtime's CPU {@code com.microsoft.GroupQueryAttention} (the version on
 * the class path, 1.22), checked on one-node graphs so an upgrade that changes it fails here first:
 * {@code attention_bias} masks a left-padded row's padding exactly (every row given its full length in
 * {@code seqlens_k}); the kernel's own rotary reads one start position for every row of a prompt (the first element
 * of {@code position_ids}), which is why rotary runs before it, as {@code RotaryEmbedding}; it refuses several new
 * tokens after a past at batch 2; and its share-buffer mode, which the in-place cache ({@code --max-length}) uses:
 * past and present bound from Java to the same {@code OnnxTensor} over a direct buffer of capacity {@code M} (the
 * present as a pinned output), the kernel compares the two data pointers and then writes the new tokens' keys and
 * values at slots {@code [total - S, total)} of that buffer, with {@code seqlens_k = total - 1} and
 * {@code total_sequence_length} the attended length (not {@code M}); it reads only slots below {@code total} (NaN
 * beyond stays unread and unwritten) and {@code attention_bias [B, 1, S, total]} masks left padding exactly as in the
 * copying mode (prefill with an unfilled capacity buffer included).
 */
class GroupQueryAttentionContractTest {
    static final int HEADS = 2;
    static final int KV_HEADS = 1;
    static final int HEAD = 16;

    @TempDir
    Path tmp;

    @Test
    void attentionBiasMasksLeftPaddingExactly() throws Exception {
        Path model = gqa(false);
        float[] q = random(1, 3 * HEADS * HEAD);
        float[] k = random(2, 3 * KV_HEADS * HEAD);
        float[] v = random(3, 3 * KV_HEADS * HEAD);
        Map<String, Ort.Out> alone = Ort.run(model, feeds(1, 3, 0, q, k, v, new long[] {2}, 3, bias(1, 3, 3, 0), null));

        // the same three tokens after two padding slots (random q/k/v there), every row counted full length
        float[] padQ = concat(random(4, 2 * HEADS * HEAD), q);
        float[] padK = concat(random(5, 2 * KV_HEADS * HEAD), k);
        float[] padV = concat(random(6, 2 * KV_HEADS * HEAD), v);
        Map<String, Ort.Out> padded = Ort.run(model, feeds(1, 5, 0, padQ, padK, padV, new long[] {4}, 5,
                bias(1, 5, 5, 2), null));
        assertClose("output at the real positions", alone.get("output").floats(),
                tail(padded.get("output").floats(), 3 * HEADS * HEAD));
        assertClose("present key at the real slots", alone.get("present_key").floats(),
                tail(padded.get("present_key").floats(), 3 * KV_HEADS * HEAD));

        Map<String, Ort.Out> unmasked = Ort.run(model, feeds(1, 5, 0, padQ, padK, padV, new long[] {4}, 5,
                bias(1, 5, 5, 0), null));
        float[] attendsPadding = tail(unmasked.get("output").floats(), 3 * HEADS * HEAD);
        assertTrue(maxDiff(alone.get("output").floats(), attendsPadding) > 1e-3,
                "without the bias the padded row attends its padding (so the bias is what masks it)");
    }

    @Test
    void ownRotaryTakesOneStartPositionForEveryRowOfAPrompt() throws Exception {
        Path model = gqa(true);
        float[] q = random(1, 2 * 3 * HEADS * HEAD);
        float[] k = random(2, 2 * 3 * KV_HEADS * HEAD);
        float[] v = random(3, 2 * 3 * KV_HEADS * HEAD);
        float[] same = presentKey(model, 2, 3, 0, q, k, v, new long[] {0, 1, 2, 0, 1, 2});
        float[] shifted = presentKey(model, 2, 3, 0, q, k, v, new long[] {0, 1, 2, 2, 3, 4});
        assertArrayEquals(same, shifted, "prompt: row 1's own position ids are not read (the first element is the"
                + " start position of every row), so a left-padded row's keys would be rotated off by its padding");

        float[] q1 = random(7, HEADS * HEAD);
        float[] k1 = random(8, KV_HEADS * HEAD);
        float[] v1 = random(9, KV_HEADS * HEAD);
        float[] atSlot = presentKey(model, 1, 1, 3, q1, k1, v1, new long[] {3});
        float[] atPosition = presentKey(model, 1, 1, 3, q1, k1, v1, new long[] {1});
        assertTrue(maxDiff(atSlot, atPosition) > 1e-3, "decode: position_ids are honoured");
    }

    @Test
    void severalNewTokensAfterAPastNeedBatchOne() throws Exception {
        Path model = gqa(false);
        int b = 2;
        AssertionError e = assertThrows(AssertionError.class, () -> Ort.run(model, feeds(b, 2, 2,
                random(1, b * 2 * HEADS * HEAD), random(2, b * 2 * KV_HEADS * HEAD),
                random(3, b * 2 * KV_HEADS * HEAD), new long[] {3, 3}, 4, bias(b, 2, 4, 0), null)));
        assertTrue(e.getMessage().contains("batch_size must be 1"), e.getMessage());
    }

    @Test
    void sharedBufferWritesInPlaceAndReadsOnlyTheFirstTotalSlots() throws Exception {
        Path model = gqa(false);
        int b = 2;
        int capacity = 8;
        int chunk = KV_HEADS * HEAD;
        // prefill: row 0 has 3 real tokens, row 1 one pad slot and 2; every row counted full length
        float[] q = random(1, b * 3 * HEADS * HEAD);
        float[] k = random(2, b * 3 * chunk);
        float[] v = random(3, b * 3 * chunk);
        float[] prefillBias = concat(bias(1, 3, 3, 0), bias(1, 3, 3, 1));
        Map<String, Ort.Out> copied = Ort.run(model, feeds(b, 3, 0, q, k, v, new long[] {2, 2}, 3, prefillBias, null));

        FloatBuffer keys = capacityBuffer(b, capacity);
        FloatBuffer values = capacityBuffer(b, capacity);
        long[] shape = {b, KV_HEADS, capacity, HEAD};
        try (OnnxTensor keyTensor = Ort.direct(keys, shape); OnnxTensor valueTensor = Ort.direct(values, shape)) {
            Map<String, OnnxTensor> bound = Map.of("past_key", keyTensor, "past_value", valueTensor);
            Map<String, String> shared = Map.of("present_key", "past_key", "present_value", "past_value");
            Map<String, Ort.Out> inPlace = Ort.runShared(model,
                    withoutPast(feeds(b, 3, 0, q, k, v, new long[] {2, 2}, 3, prefillBias, null)), bound, shared);
            assertClose("prefill output", copied.get("output").floats(), inPlace.get("output").floats());
            assertSlots("prefill present key", copied.get("present_key").floats(), 3, keys, capacity);
            assertSlots("prefill present value", copied.get("present_value").floats(), 3, values, capacity);

            // decode one token: written at slot seqlens_k (= 3) of the same buffer; slots 4.. are NaN and unread
            float[] q1 = random(7, b * HEADS * HEAD);
            float[] k1 = random(8, b * chunk);
            float[] v1 = random(9, b * chunk);
            float[] stepBias = concat(bias(1, 1, 4, 0), bias(1, 1, 4, 1));
            Map<String, HostTensor> step = feeds(b, 1, 3, q1, k1, v1, new long[] {3, 3}, 4, stepBias, null);
            step.put("past_key", HostTensor.ofFloats(copied.get("present_key").floats(), b, KV_HEADS, 3, HEAD));
            step.put("past_value", HostTensor.ofFloats(copied.get("present_value").floats(), b, KV_HEADS, 3, HEAD));
            Map<String, Ort.Out> copiedStep = Ort.run(model, step);
            Map<String, Ort.Out> inPlaceStep = Ort.runShared(model,
                    withoutPast(feeds(b, 1, 3, q1, k1, v1, new long[] {3, 3}, 4, stepBias, null)), bound, shared);
            assertClose("decode output", copiedStep.get("output").floats(), inPlaceStep.get("output").floats());
            assertSlots("decode present key", copiedStep.get("present_key").floats(), 4, keys, capacity);
            assertSlots("decode present value", copiedStep.get("present_value").floats(), 4, values, capacity);
        }
    }

    /** {@code [B, kv_heads, capacity, D]} of NaN in a direct buffer: a slot that is read would poison the output. */
    private static FloatBuffer capacityBuffer(int batch, int capacity) {
        FloatBuffer f = ByteBuffer.allocateDirect(batch * KV_HEADS * capacity * HEAD * Float.BYTES)
                .order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < f.capacity(); i++) {
            f.put(i, Float.NaN);
        }
        return f;
    }

    private static Map<String, HostTensor> withoutPast(Map<String, HostTensor> feeds) {
        feeds.remove("past_key");
        feeds.remove("past_value");
        return feeds;
    }

    /** The buffer's first {@code slots} slots of every (row, head) hold {@code expected}; the rest are still NaN. */
    private static void assertSlots(String what, float[] expected, int slots, FloatBuffer buffer, int capacity) {
        int heads = expected.length / (slots * HEAD);
        float[] head = new float[slots * HEAD];
        for (int h = 0; h < heads; h++) {
            buffer.get(h * capacity * HEAD, head);
            assertClose(what + " (row/head " + h + ")", Arrays.copyOfRange(expected, h * slots * HEAD,
                    (h + 1) * slots * HEAD), head);
            for (int i = slots * HEAD; i < capacity * HEAD; i++) {
                assertTrue(Float.isNaN(buffer.get(h * capacity * HEAD + i)),
                        what + ": slot " + i / HEAD + " of row/head " + h + " was written");
            }
        }
    }

    private float[] presentKey(Path model, int batch, int sequence, int past, float[] q, float[] k, float[] v,
                               long[] positions) {
        int total = past + sequence;
        long[] seqlens = new long[batch];
        Arrays.fill(seqlens, total - 1);
        return Ort.run(model, feeds(batch, sequence, past, q, k, v, seqlens, total, bias(batch, sequence, total, 0),
                positions)).get("present_key").floats();
    }

    /** One GroupQueryAttention node; int32 inputs arrive as int64 and are cast (the test harness feeds int64). */
    private Path gqa(boolean doRotary) throws Exception {
        GraphBuilder g = new GraphBuilder("gqa", 14);
        g.importOpset(OrtFusions.DOMAIN, 1);
        input(g, "query", 1, "B", "S", HEADS * HEAD);
        input(g, "key", 1, "B", "S", KV_HEADS * HEAD);
        input(g, "value", 1, "B", "S", KV_HEADS * HEAD);
        input(g, "past_key", 1, "B", KV_HEADS, "P", HEAD);
        input(g, "past_value", 1, "B", KV_HEADS, "P", HEAD);
        input(g, "seqlens", 7, "B");
        input(g, "total", 7);
        input(g, "cos", 1, "T", HEAD / 2);
        input(g, "sin", 1, "T", HEAD / 2);
        input(g, "position_ids", 7, "B", "S");
        input(g, "bias", 1, "B", 1, "S", "T");
        String seqlens = g.addNode("Cast", List.of("seqlens"), Attributes.of("to", 6L));
        String total = g.addNode("Cast", List.of("total"), Attributes.of("to", 6L));
        List<String> out = g.addNode(OrtFusions.DOMAIN, "GroupQueryAttention", List.of("query", "key", "value",
                "past_key", "past_value", seqlens, total, "cos", "sin", "position_ids", "bias"), 3,
                Attributes.of("num_heads", (long) HEADS), Attributes.of("kv_num_heads", (long) KV_HEADS),
                Attributes.of("do_rotary", doRotary ? 1L : 0L));
        String[] names = {"output", "present_key", "present_value"};
        for (int i = 0; i < 3; i++) {
            g.renameNodeOutput(out.get(i), names[i]);
            g.addOutput(GraphBuilder.tensorInfo(names[i], 1, i == 0 ? Arrays.asList((Object) "B", "S", HEADS * HEAD)
                    : Arrays.asList((Object) "B", KV_HEADS, "T", HEAD)));
        }
        Path file = tmp.resolve("gqa-" + doRotary + ".onnx");
        Files.write(file, g.build(false).toByteArray());
        return file;
    }

    private static Map<String, HostTensor> feeds(int batch, int sequence, int past, float[] q, float[] k, float[] v,
                                                 long[] seqlens, long total, float[] bias, long[] positions) {
        int t = past + sequence;
        Map<String, HostTensor> f = new LinkedHashMap<>();
        f.put("query", HostTensor.ofFloats(q, batch, sequence, HEADS * HEAD));
        f.put("key", HostTensor.ofFloats(k, batch, sequence, KV_HEADS * HEAD));
        f.put("value", HostTensor.ofFloats(v, batch, sequence, KV_HEADS * HEAD));
        int pastSize = batch * KV_HEADS * past * HEAD;
        f.put("past_key", HostTensor.ofFloats(random(10, pastSize), batch, KV_HEADS, past, HEAD));
        f.put("past_value", HostTensor.ofFloats(random(11, pastSize), batch, KV_HEADS, past, HEAD));
        f.put("seqlens", HostTensor.ofLongs(seqlens, batch));
        f.put("total", HostTensor.ofLongs(new long[] {total}));
        float[] cos = new float[t * HEAD / 2];
        float[] sin = new float[t * HEAD / 2];
        for (int p = 0; p < t; p++) {
            for (int i = 0; i < HEAD / 2; i++) {
                double angle = p / Math.pow(10000, 2.0 * i / HEAD);
                cos[p * HEAD / 2 + i] = (float) Math.cos(angle);
                sin[p * HEAD / 2 + i] = (float) Math.sin(angle);
            }
        }
        f.put("cos", HostTensor.ofFloats(cos, t, HEAD / 2));
        f.put("sin", HostTensor.ofFloats(sin, t, HEAD / 2));
        long[] pos = positions;
        if (pos == null) {
            pos = new long[batch * sequence];
            for (int i = 0; i < pos.length; i++) {
                pos[i] = past + i % sequence;
            }
        }
        f.put("position_ids", HostTensor.ofLongs(pos, batch, sequence));
        f.put("bias", HostTensor.ofFloats(bias, batch, 1, sequence, t));
        return f;
    }

    /** {@code [B, 1, S, T]}: the lowest float on the first {@code padded} key slots of every row, else 0. */
    private static float[] bias(int batch, int sequence, int total, int padded) {
        float[] b = new float[batch * sequence * total];
        for (int i = 0; i < b.length; i++) {
            b[i] = i % total < padded ? AttentionMask.lowest(dev.stepwise.annotations.DType.FLOAT) : 0f;
        }
        return b;
    }
}
