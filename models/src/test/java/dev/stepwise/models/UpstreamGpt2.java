package dev.stepwise.models;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The oracle: onnxruntime's own GPT-2 export of the same tiny weights ({@code upstream-onnx/gpt2-tiny-random-fused/
 * past.onnx}), int32 ids, past as {@code [2, B, 4, P, 8]} per layer. Runs one step for batch 1 and keeps its cache.
 */
final class UpstreamGpt2 implements AutoCloseable {
    static final int LAYERS = 5;
    static final int HEADS = 4;
    static final int HEAD_DIM = 8;
    static final int VOCAB = 1000;

    private final OrtEnvironment env = OrtSessions.environment();
    private final OrtSession session;
    private float[][] past = new float[LAYERS][0];
    private int pastLength;

    UpstreamGpt2() {
        session = OrtSessions.open(Fixtures.path("upstream-onnx/gpt2-tiny-random-fused/past.onnx"), 1);
    }

    /** Feeds {@code ids} (batch 1) after the cached past; returns logits {@code [ids.length * VOCAB]}. */
    float[] step(long[] ids) throws OrtException {
        int s = ids.length;
        int total = pastLength + s;
        int[] idArray = new int[s];
        int[] positions = new int[s];
        for (int i = 0; i < s; i++) {
            idArray[i] = (int) ids[i];
            positions[i] = pastLength + i;
        }
        int[] mask = new int[total];
        java.util.Arrays.fill(mask, 1);
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put("input_ids", OnnxTensor.createTensor(env, IntBuffer.wrap(idArray), new long[] {1, s}));
            feed.put("position_ids", OnnxTensor.createTensor(env, IntBuffer.wrap(positions), new long[] {1, s}));
            feed.put("attention_mask", OnnxTensor.createTensor(env, IntBuffer.wrap(mask), new long[] {1, total}));
            for (int l = 0; l < LAYERS; l++) {
                feed.put("past_" + l, OnnxTensor.createTensor(env, FloatBuffer.wrap(past[l]),
                        new long[] {2, 1, HEADS, pastLength, HEAD_DIM}));
            }
            try (OrtSession.Result r = session.run(feed)) {
                float[] logits = toArray((OnnxTensor) r.get("logits").orElseThrow());
                for (int l = 0; l < LAYERS; l++) {
                    past[l] = toArray((OnnxTensor) r.get("present_" + l).orElseThrow());
                }
                pastLength = total;
                return logits;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /** Greedy generation of {@code newTokens} tokens after {@code prompt} (no eos stop, like the caller asks). */
    long[] greedy(long[] prompt, int newTokens, long eos) throws OrtException {
        long[] out = java.util.Arrays.copyOf(prompt, prompt.length + newTokens);
        float[] logits = step(prompt);
        int n = prompt.length;
        for (int i = 0; i < newTokens; i++) {
            long next = argmax(logits, logits.length / VOCAB - 1);
            out[n++] = next;
            if (next == eos || i == newTokens - 1) {
                break;
            }
            logits = step(new long[] {next});
        }
        return java.util.Arrays.copyOf(out, n);
    }

    static long argmax(float[] logits, int position) {
        int best = 0;
        for (int v = 1; v < VOCAB; v++) {
            if (logits[position * VOCAB + v] > logits[position * VOCAB + best]) {
                best = v;
            }
        }
        return best;
    }

    private static float[] toArray(OnnxTensor t) {
        FloatBuffer b = t.getFloatBuffer();
        float[] a = new float[b.remaining()];
        b.get(a);
        return a;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
