package dev.stepwise.models;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The oracle: the onnxruntime-genai model builder's export of the same tiny LLaMA
 * ({@code upstream-onnx/llama-tiny-random-fp16/model.onnx}): fp16 past, presents and logits, int64 ids, mask and
 * positions, past {@code [B, 1, P, 16]} per layer. Runs batch 1 one step at a time and keeps its cache (fp16 bits).
 */
final class UpstreamLlama implements AutoCloseable {
    static final int LAYERS = 2;
    static final int KV_HEADS = 1;
    static final int HEAD_DIM = 16;
    static final int VOCAB = 32000;
    static final long EOS = 1;

    private final OrtEnvironment env = OrtSessions.environment();
    private final OrtSession session;
    private final short[][] pastKeys = new short[LAYERS][0];
    private final short[][] pastValues = new short[LAYERS][0];
    private int pastLength;

    UpstreamLlama() {
        session = OrtSessions.open(Fixtures.path("upstream-onnx/llama-tiny-random-fp16/model.onnx"), 1);
    }

    /** Feeds {@code ids} (batch 1) after the cached past; returns logits {@code [ids.length * VOCAB]}, widened. */
    float[] step(long[] ids) throws OrtException {
        int s = ids.length;
        int total = pastLength + s;
        long[] positions = new long[s];
        for (int i = 0; i < s; i++) {
            positions[i] = pastLength + i;
        }
        long[] mask = new long[total];
        Arrays.fill(mask, 1);
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, s}));
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, total}));
            feed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, s}));
            long[] pastShape = {1, KV_HEADS, pastLength, HEAD_DIM};
            for (int l = 0; l < LAYERS; l++) {
                feed.put("past_key_values." + l + ".key", half(pastKeys[l], pastShape));
                feed.put("past_key_values." + l + ".value", half(pastValues[l], pastShape));
            }
            try (OrtSession.Result r = session.run(feed)) {
                float[] logits = OrtTensors.toHostFloats((OnnxTensor) r.get("logits").orElseThrow()).floats();
                for (int l = 0; l < LAYERS; l++) {
                    pastKeys[l] = shorts((OnnxTensor) r.get("present." + l + ".key").orElseThrow());
                    pastValues[l] = shorts((OnnxTensor) r.get("present." + l + ".value").orElseThrow());
                }
                pastLength = total;
                return logits;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /** Greedy generation of up to {@code newTokens} tokens after {@code prompt}, stopping after eos. */
    long[] greedy(long[] prompt, int newTokens) throws OrtException {
        long[] out = Arrays.copyOf(prompt, prompt.length + newTokens);
        float[] logits = step(prompt);
        int n = prompt.length;
        for (int i = 0; i < newTokens; i++) {
            long next = argmax(logits, logits.length / VOCAB - 1);
            out[n++] = next;
            if (next == EOS || i == newTokens - 1) {
                break;
            }
            logits = step(new long[] {next});
        }
        return Arrays.copyOf(out, n);
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

    private OnnxTensor half(short[] bits, long[] shape) throws OrtException {
        return OnnxTensor.createTensor(env, ShortBuffer.wrap(bits), shape, OnnxJavaType.FLOAT16);
    }

    private static short[] shorts(OnnxTensor t) {
        ShortBuffer b = t.getShortBuffer();
        short[] a = new short[b.remaining()];
        b.get(a);
        return a;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
