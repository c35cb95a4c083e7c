package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.PinnedLogits;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One generation's decoder state on ONNX Runtime: a batch of rows (left padded to one length), their attention mask
 * and next positions, and the KV cache as ONNX Runtime tensors that go from one step's present outputs straight to
 * the next step's past inputs. Rows can be reordered (beam search): the cache rows through a small Gather session
 * ({@link CacheGather}), the mask and positions in Java.
 */
final class DecoderRun implements StepModel {
    private final DecoderGraphs model;
    private final OrtEnvironment env = OrtSessions.environment();
    private final CacheGather gather;
    private final int rows;
    private final long[][] mask;
    private final long[] nextPosition;

    /** The ORT values of the current past; owned by {@link #owner} (or by us before the first run). */
    private Map<String, OnnxTensor> past;
    private AutoCloseable owner;
    private float[][] lastLogits;
    private int vocab;
    /** The decode steps' pinned logits ([rows, 1, vocab]), made at the first step and reused by every later one. */
    private PinnedLogits stepLogits;
    /** Runs so far: the next run's session is {@code model.session(runs)}. */
    private int runs;

    /**
     * Rows: each row's real tokens; shorter rows are left padded with {@code pad}. {@code reorderable}: open the
     * cache-reorder session beam search needs (closed with this run).
     */
    DecoderRun(DecoderGraphs model, boolean reorderable, List<long[]> prompts, long pad) {
        this.model = model;
        this.gather = reorderable ? new CacheGather(model.cache(), model.config().numLayers(), model.cacheType()) : null;
        this.rows = prompts.size();
        int longest = model.prefillLength(prompts.stream().mapToInt(p -> p.length).max().orElse(0));
        this.mask = new long[rows][];
        this.nextPosition = new long[rows];
        long[] ids = new long[rows * longest];
        long[] positions = new long[rows * longest];
        for (int b = 0; b < rows; b++) {
            long[] p = prompts.get(b);
            int padding = longest - p.length;
            mask[b] = new long[longest];
            for (int t = 0; t < longest; t++) {
                boolean real = t >= padding;
                ids[b * longest + t] = real ? p[t - padding] : pad;
                mask[b][t] = real ? 1 : 0;
                positions[b * longest + t] = real ? t - padding : 1;
            }
            nextPosition[b] = p.length;
        }
        this.past = model.prefillTakesPast() ? emptyPast() : new LinkedHashMap<>();
        try {
            run(ids, positions, longest);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public int rows() {
        return rows;
    }

    int vocab() {
        return vocab;
    }

    /** The last run's logits at each row's last position (a copy the caller may modify). */
    @Override
    public float[] logits(int row) {
        return lastLogits[row].clone();
    }

    /** Feeds one token per row and runs a decode step. */
    @Override
    public void step(long[] tokens) {
        long[] positions = new long[rows];
        for (int b = 0; b < rows; b++) {
            positions[b] = nextPosition[b]++;
            mask[b] = Arrays.copyOf(mask[b], mask[b].length + 1);
            mask[b][mask[b].length - 1] = 1;
        }
        run(tokens, positions, 1);
    }

    /** Row {@code i} becomes a copy of old row {@code from[i]}: cache, mask and positions. */
    @Override
    public void reorder(int[] from) {
        boolean identity = true;
        for (int i = 0; i < from.length; i++) {
            identity &= from[i] == i;
        }
        if (identity) {
            return;
        }
        if (gather == null) {
            throw new IllegalStateException("this decoder run was opened without a cache reorder session");
        }
        long[][] oldMask = mask.clone();
        long[] oldPosition = nextPosition.clone();
        for (int i = 0; i < rows; i++) {
            mask[i] = oldMask[from[i]];
            nextPosition[i] = oldPosition[from[i]];
        }
        CacheGather.Gathered g = gather.apply(past, from);
        closeOwner();
        past = g.values();
        owner = g.owner();
    }

    private void run(long[] ids, long[] positions, int length) {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>(past);
        List<OnnxTensor> created = new ArrayList<>();
        // ONNX Runtime writes the logits into our direct buffer; only each row's last position is copied out.
        int positionsOut = model.lastLogitsOnly(runs) ? 1 : length;
        PinnedLogits logits = stepLogits != null && stepLogits.fits(rows, positionsOut) ? stepLogits
                : PinnedLogits.allocate(model.logitsType(), rows, positionsOut, model.vocab());
        try {
            created.add(put(feed, "input_ids", ids, length));
            long[] flatMask = new long[rows * mask[0].length];
            for (int b = 0; b < rows; b++) {
                System.arraycopy(mask[b], 0, flatMask, b * mask[b].length, mask[b].length);
            }
            created.add(put(feed, "attention_mask", flatMask, mask[0].length));
            created.add(put(feed, "position_ids", positions, length));
            OrtSession.Result result = model.session(runs).run(feed, model.presentNames(),
                    Map.of(model.logitsName(), logits.tensor()));
            runs++;
            closeOwner();
            owner = result;
            past = presents(result);
            vocab = logits.vocab();
            lastLogits = new float[rows][];
            for (int b = 0; b < rows; b++) {
                lastLogits[b] = logits.lastPosition(b);
            }
        } catch (OrtException e) {
            throw new StepwiseException(model.dir() + ": ONNX Runtime failed while generating: " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
            if (logits != stepLogits) {
                if (length == 1) {
                    closeStepLogits();
                    stepLogits = logits;     // the decode steps' buffer, kept
                } else {
                    logits.close();          // the prefill's, used once
                }
            }
        }
    }

    /** The pinned logits the decode steps share (null before the first step); for tests. */
    PinnedLogits stepLogits() {
        return stepLogits;
    }

    private void closeStepLogits() {
        if (stepLogits != null) {
            stepLogits.close();
            stepLogits = null;
        }
    }

    private OnnxTensor put(Map<String, OnnxTensor> feed, String name, long[] data, int length) throws OrtException {
        long[] shape = {rows, length};
        OnnxTensor t;
        if (model.inputType(name) == DType.INT32) {
            int[] narrow = new int[data.length];
            for (int i = 0; i < data.length; i++) {
                narrow[i] = (int) data[i];
            }
            t = OnnxTensor.createTensor(env, IntBuffer.wrap(narrow), shape);
        } else {
            t = OnnxTensor.createTensor(env, LongBuffer.wrap(data), shape);
        }
        feed.put(name, t);
        return t;
    }

    /** Past tensors of length 0 in the cache's element type: prefill runs the same graph as decode. */
    private Map<String, OnnxTensor> emptyPast() {
        CacheDecl cache = model.cache();
        Map<String, OnnxTensor> empty = new LinkedHashMap<>();
        long[] shape = cacheShape(model, rows, 0);
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

    private static long[] cacheShape(DecoderGraphs model, int batch, int length) {
        List<String> axes = model.cache().axes();
        long[] shape = new long[axes.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = switch (axes.get(i)) {
                case "batch_size" -> batch;
                case CacheDecl.PAST_SEQUENCE -> length;
                case "num_key_value_heads" -> model.config().numKeyValueHeads();
                case "num_attention_heads" -> model.config().numAttentionHeads();
                case "head_dim" -> model.config().headDim();
                case "hidden_size" -> model.config().hiddenSize();
                default -> throw new StepwiseException("cache axis '" + axes.get(i) + "' is not supported by the generator");
            };
        }
        return shape;
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
        closeStepLogits();
        if (gather != null) {
            gather.close();
        }
    }
}
