package dev.stepwise.runtime.bench;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.PinnedLogits;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Greedy decoding on ONNX Runtime the way a careful caller does it: the KV cache stays in ONNX Runtime tensors (each
 * step's presents are the next step's pasts), and the logits are written by ONNX Runtime straight into a direct
 * buffer this class owns (a pinned output), so reading the last position for the argmax copies nothing.
 */
final class OrtDecoder implements GreedyDecoder {
    private final OrtEnvironment env = OrtSessions.environment();
    private final OrtSession session;
    private final ArchitectureSpec spec;
    private final ModelConfig config;
    private final Map<String, DType> inputTypes = new HashMap<>();
    private final Set<String> presentNames = new LinkedHashSet<>();
    /** Pinned logits outputs by shape (prefill, decode), made once and reused by every run. */
    private final Map<LogitsShape, PinnedLogits> pinned = new HashMap<>();

    private record LogitsShape(int batch, int sequence) {
    }

    /** Whether the graph's cache and logits are float16 (an {@code --dtype fp16} export). */
    private final boolean half;

    OrtDecoder(OrtSession session, ArchitectureSpec spec, ModelConfig config, DType dtype) {
        this.session = session;
        this.half = dtype == DType.FLOAT16;
        this.spec = spec;
        this.config = config;
        for (TensorDecl d : spec.inputs()) {
            inputTypes.put(d.name(), d.type());
        }
        for (int l = 0; l < config.numLayers(); l++) {
            presentNames.add(spec.cache().presentName(l, "key"));
            presentNames.add(spec.cache().presentName(l, "value"));
        }
    }

    @Override
    public String name() {
        return "onnxruntime";
    }

    @Override
    public DecodeRun decode(long[][] prompts, int newTokens) {
        int batch = prompts.length;
        int promptLength = prompts[0].length;
        long[][] tokens = new long[batch][newTokens];
        long[] decodeNanos = new long[newTokens - 1];
        long prefillNanos = 0;
        Map<String, OnnxTensor> past = emptyPast(batch);
        OrtSession.Result previous = null;
        try {
            StepInputs in = StepInputs.prefill(prompts);
            for (int step = 0; step < newTokens; step++) {
                long started = System.nanoTime();
                PinnedLogits logits = logits(in.batch(), in.sequence());
                OrtSession.Result result = run(in, past, logits.tensor());
                // The new presents are in hand; the old pasts can go.
                if (previous != null) {
                    previous.close();
                } else {
                    past.values().forEach(OnnxTensor::close);
                }
                previous = result;
                past = presents(result);
                long[] next = lastPositionArgmax(logits, batch, in.sequence());
                long elapsed = System.nanoTime() - started;
                if (step == 0) {
                    prefillNanos = elapsed;
                } else {
                    decodeNanos[step - 1] = elapsed;
                }
                for (int b = 0; b < batch; b++) {
                    tokens[b][step] = next[b];
                }
                in = StepInputs.decode(next, promptLength + step);
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed while decoding: " + e.getMessage(), e);
        } finally {
            if (previous != null) {
                previous.close();
            } else {
                past.values().forEach(OnnxTensor::close);
            }
        }
        return new DecodeRun(tokens, prefillNanos, decodeNanos);
    }

    private OrtSession.Result run(StepInputs in, Map<String, OnnxTensor> past, OnnxTensor logits) throws OrtException {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>(past);
        OnnxTensor ids = ids("input_ids", in.inputIds(), in.batch(), in.sequence());
        OnnxTensor mask = ids("attention_mask", in.attentionMask(), in.batch(), in.total());
        OnnxTensor positions = ids("position_ids", in.positionIds(), in.batch(), in.sequence());
        try {
            feed.put("input_ids", ids);
            feed.put("attention_mask", mask);
            feed.put("position_ids", positions);
            return session.run(feed, presentNames, Map.of(logitsName(), logits));
        } finally {
            ids.close();
            mask.close();
            positions.close();
        }
    }

    private long[] lastPositionArgmax(PinnedLogits logits, int batch, int sequence) {
        int vocab = config.vocabSize();
        long[] next = new long[batch];
        for (int b = 0; b < batch; b++) {
            // float32 is read in place; float16 rows are widened (vocab values, not the whole buffer)
            next[b] = half ? Argmax.of(FloatBuffer.wrap(logits.lastPosition(b)), 0, vocab)
                    : Argmax.of(logits.floats(), logits.lastPositionOffset(b), vocab);
        }
        return next;
    }

    private PinnedLogits logits(int batch, int sequence) throws OrtException {
        LogitsShape key = new LogitsShape(batch, sequence);
        PinnedLogits p = pinned.get(key);
        if (p == null) {
            p = PinnedLogits.allocate(half ? OnnxJavaType.FLOAT16 : OnnxJavaType.FLOAT, batch, sequence,
                    config.vocabSize());
            pinned.put(key, p);
        }
        return p;
    }

    private String logitsName() {
        return spec.outputs().get(0).name();
    }

    /** Past tensors of length 0: prefill runs the same graph as decode. */
    private Map<String, OnnxTensor> emptyPast(int batch) {
        CacheDecl cache = spec.cache();
        long[] shape = CacheShape.of(cache, config, batch, 0);
        Map<String, OnnxTensor> past = new LinkedHashMap<>();
        try {
            for (int l = 0; l < config.numLayers(); l++) {
                past.put(cache.pastName(l, "key"), emptyTensor(shape));
                past.put(cache.pastName(l, "value"), emptyTensor(shape));
            }
        } catch (OrtException e) {
            past.values().forEach(OnnxTensor::close);
            throw new StepwiseException("cannot create the empty KV cache: " + e.getMessage(), e);
        }
        return past;
    }

    private OnnxTensor emptyTensor(long[] shape) throws OrtException {
        return half
                ? OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(0), shape, OnnxJavaType.FLOAT16)
                : OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape);
    }

    /** The result's presents under the next step's past names: the same ONNX Runtime values, no copy. */
    private Map<String, OnnxTensor> presents(OrtSession.Result result) {
        CacheDecl cache = spec.cache();
        Map<String, OnnxTensor> next = new LinkedHashMap<>();
        for (int l = 0; l < config.numLayers(); l++) {
            for (String kind : new String[] {"key", "value"}) {
                OnnxValue v = result.get(cache.presentName(l, kind))
                        .orElseThrow(() -> new StepwiseException("the model has no output " + cache.presentName(0, kind)));
                next.put(cache.pastName(l, kind), (OnnxTensor) v);
            }
        }
        return next;
    }

    private OnnxTensor ids(String name, long[] data, int batch, int length) throws OrtException {
        long[] shape = {batch, length};
        if (inputTypes.get(name) == DType.INT32) {
            IntBuffer narrow = ByteBuffer.allocateDirect(data.length * Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
            for (long x : data) {
                narrow.put(Math.toIntExact(x));
            }
            return OnnxTensor.createTensor(env, narrow.rewind(), shape);
        }
        LongBuffer direct = ByteBuffer.allocateDirect(data.length * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
        direct.put(data).rewind();
        return OnnxTensor.createTensor(env, direct, shape);
    }

    @Override
    public void close() {
        pinned.values().forEach(PinnedLogits::close);
        pinned.clear();
        try {
            session.close();
        } catch (OrtException e) {
            // nothing left to do with a session that fails to close
        }
    }
}
