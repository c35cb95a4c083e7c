package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link DecoderStep} of an in-place KV cache ({@code export --optimize ort --max-length N}): one direct buffer
 * {@code [rows, kv_heads, N, head_dim]} per layer and kind, allocated once per request and bound to ONNX Runtime both
 * as the past input and as the pinned present output. GroupQueryAttention then sees the same memory on both sides
 * (its share-buffer mode, pinned by {@code GroupQueryAttentionContractTest}) and writes each new token's key and
 * value at slot {@code seqlens_k} in place; slots at or past the attention mask's length are never read. So a decode
 * step copies nothing that grows with the context. Beam search reorders rows by copying their filled slots within
 * the buffers.
 */
final class InPlaceDecoderRun implements DecoderStep {
    private final DecoderGraphs model;
    private final OrtEnvironment env = OrtSessions.environment();
    private final int rows;
    private final int capacity;
    /** Floats of one row of one layer's buffer: {@code kv_heads × capacity × head_dim}. */
    private final int rowFloats;
    private final int headDim;
    private final Map<String, OnnxTensor> past = new LinkedHashMap<>();
    private final Map<String, OnnxValue> presents = new LinkedHashMap<>();
    private final List<FloatBuffer> buffers = new ArrayList<>();
    private final StepLogits stepLogits;
    /** Slots filled so far (the attention mask's length after the last run). */
    private int filled;

    InPlaceDecoderRun(DecoderGraphs model, int rows, int capacity) {
        this.model = model;
        this.rows = rows;
        this.capacity = capacity;
        this.stepLogits = new StepLogits(model, rows);
        CacheDecl cache = model.cache();
        long[] shape = cache.shape(model.config(), rows, capacity);
        this.headDim = Math.toIntExact(shape[3]);
        this.rowFloats = Math.toIntExact(shape[1] * shape[2] * shape[3]);
        long bytes = (long) rows * rowFloats * Float.BYTES;
        if (bytes > Integer.MAX_VALUE) {
            close();
            throw new StepwiseException(String.format("%s: an in-place KV cache of %d rows × %d positions needs %.1f GB"
                    + " per layer, more than one direct buffer holds; export with a smaller --max-length",
                    model.dir(), rows, capacity, bytes / 1e9));
        }
        try {
            for (int l = 0; l < model.config().numLayers(); l++) {
                for (String kind : new String[] {"key", "value"}) {
                    FloatBuffer buffer = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder())
                            .asFloatBuffer();
                    OnnxTensor t = OnnxTensor.createTensor(env, buffer, shape);   // wraps the buffer, no copy
                    buffers.add(buffer);
                    past.put(cache.pastName(l, kind), t);
                    presents.put(cache.presentName(l, kind), t);
                }
            }
        } catch (OrtException e) {
            close();
            throw new StepwiseException(model.dir() + ": cannot create the in-place KV cache: " + e.getMessage(), e);
        }
    }

    @Override
    public float[][] run(StepIds in) {
        if (in.total() > capacity) {
            throw new StepwiseException(model.dir() + ": " + in.total() + " positions exceed the in-place KV cache's"
                    + " capacity of " + capacity + " (export --max-length)");
        }
        return stepLogits.forward(past, in, 0, (feed, logits) -> {
            Map<String, OnnxValue> pinned = new LinkedHashMap<>(presents);
            pinned.put(model.logitsName(), logits.tensor());
            model.session(0).run(feed, Set.of(), pinned).close();   // every output pinned: nothing to release
            filled = in.total();
        });
    }

    /** Copies each row's filled slots from old row {@code from[i]}, within the same buffers (no reallocation). */
    @Override
    public void reorderCache(int[] from) {
        int slots = filled * headDim;
        int heads = rowFloats / (capacity * headDim);
        float[] old = new float[rows * heads * slots];
        for (FloatBuffer buffer : buffers) {
            for (int b = 0; b < rows; b++) {
                for (int h = 0; h < heads; h++) {
                    buffer.get((b * heads + h) * capacity * headDim, old, (b * heads + h) * slots, slots);
                }
            }
            for (int b = 0; b < rows; b++) {
                for (int h = 0; h < heads; h++) {
                    buffer.put((b * heads + h) * capacity * headDim, old, (from[b] * heads + h) * slots, slots);
                }
            }
        }
    }

    @Override
    public void close() {
        past.values().forEach(OnnxTensor::close);
        past.clear();
        presents.clear();
        stepLogits.close();
    }
}
