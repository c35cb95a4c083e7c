package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ONNX Runtime's {@link DecoderStep}: the KV cache as ONNX Runtime tensors that go from one run's present outputs
 * straight to the next run's past inputs, never copied through Java arrays; run {@code r} calls
 * {@link DecoderGraphs#session session(r)}. Rows are reordered (beam search) through a small Gather session
 * ({@link CacheGather}).
 */
final class DecoderRun implements DecoderStep {
    private final DecoderGraphs model;
    private final OrtEnvironment env = OrtSessions.environment();
    private final CacheGather gather;
    private final int rows;

    /** The ORT values of the current past; owned by {@link #owner} (or by us before the first run). */
    private Map<String, OnnxTensor> past;
    private AutoCloseable owner;
    private final StepLogits stepLogits;
    /** Runs so far: the next run's session is {@code model.session(runs)}. */
    private int runs;

    /** {@code reorderable}: open the cache-reorder session beam search needs (closed with this run). */
    DecoderRun(DecoderGraphs model, boolean reorderable, int rows) {
        this.model = model;
        this.rows = rows;
        this.stepLogits = new StepLogits(model, rows);
        this.gather = reorderable ? new CacheGather(model.cache(), model.config().numLayers(), model.cacheType()) : null;
        try {
            this.past = model.prefillTakesPast() ? emptyPast() : new LinkedHashMap<>();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public void reorderCache(int[] from) {
        if (gather == null) {
            throw new IllegalStateException("this decoder run was opened without a cache reorder session");
        }
        CacheGather.Gathered g = gather.apply(past, from);
        closeOwner();
        past = g.values();
        owner = g.owner();
    }

    @Override
    public float[][] run(StepIds in) {
        return stepLogits.forward(past, in, runs, (feed, logits) -> {
            OrtSession.Result result = model.session(runs).run(feed, model.presentNames(),
                    Map.of(model.logitsName(), logits.tensor()));
            runs++;
            closeOwner();
            owner = result;
            past = presents(result);
        });
    }

    /** Past tensors of length 0 in the cache's element type: prefill runs the same graph as decode. */
    private Map<String, OnnxTensor> emptyPast() {
        CacheDecl cache = model.cache();
        Map<String, OnnxTensor> empty = new LinkedHashMap<>();
        long[] shape = model.cache().shape(model.config(), rows, 0);
        try {
            for (int l = 0; l < model.config().numLayers(); l++) {
                for (String kind : new String[] {"key", "value"}) {
                    // The graph's own cache type: an fp16 export has fp16 past whatever the annotation declares.
                    empty.put(cache.pastName(l, kind), emptyTensor(shape));
                }
            }
        } catch (OrtException e) {
            empty.values().forEach(OnnxTensor::close);
            throw new StepwiseException("cannot create the empty KV cache: " + e.getMessage(), e);
        }
        owner = () -> empty.values().forEach(OnnxTensor::close);
        return empty;
    }

    private OnnxTensor emptyTensor(long[] shape) throws OrtException {
        return model.cacheType() == OnnxJavaType.FLOAT16
                ? OnnxTensor.createTensor(env, ShortBuffer.allocate(0), shape, OnnxJavaType.FLOAT16)
                : OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape);
    }

    /** The result's present tensors renamed to the next step's past inputs (same ORT values, no copy). */
    private Map<String, OnnxTensor> presents(OrtSession.Result result) {
        CacheDecl cache = model.cache();
        Map<String, OnnxTensor> next = new LinkedHashMap<>();
        for (int l = 0; l < model.config().numLayers(); l++) {
            for (String kind : new String[] {"key", "value"}) {
                String name = cache.presentName(l, kind);
                OnnxValue v = result.get(name)
                        .orElseThrow(() -> new StepwiseException(model.dir() + ": the model has no output " + name));
                next.put(cache.pastName(l, kind), (OnnxTensor) v);
            }
        }
        return next;
    }

    private void closeOwner() {
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception e) {
                throw new StepwiseException("cannot release ONNX Runtime values: " + e.getMessage(), e);
            }
            owner = null;
        }
    }

    @Override
    public void close() {
        closeOwner();
        stepLogits.close();
        if (gather != null) {
            gather.close();
        }
    }
}
