package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy decoding on ONNX Runtime with the KV cache kept as ONNX Runtime tensors: each step's present tensors are
 * fed straight back as the next step's past, never copied through Java arrays. Rows of different lengths are left
 * padded with the pad id; the mask marks padding and position ids follow the mask (cumulative sum − 1), so a padded
 * row produces the same tokens as the row alone.
 */
public final class Generator {
    /** Called once per generated token (streaming). */
    public interface TokenListener {
        void onToken(int row, int step, long token);
    }

    private final ExportedModel model;
    private final OrtEnvironment env = OrtSessions.environment();
    private final Map<String, DType> inputTypes = new HashMap<>();

    public Generator(ExportedModel model) {
        this.model = model;
        for (TensorDecl d : model.spec().inputs()) {
            inputTypes.put(d.name(), d.type());
        }
    }

    /** Per row: the prompt ids followed by the generated ids, ending after eos when eos was produced. */
    public List<long[]> greedy(List<long[]> prompts, int maxNewTokens) {
        return greedy(prompts, maxNewTokens, (row, step, token) -> { });
    }

    public List<long[]> greedy(List<long[]> prompts, int maxNewTokens, TokenListener listener) {
        check(prompts, maxNewTokens);
        int batch = prompts.size();
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        long pad = model.padId();
        int vocab = model.config().vocabSize();

        // Left-padded prompt, its mask, and positions from the mask.
        long[] ids = new long[batch * longest];
        long[] positions = new long[batch * longest];
        List<long[]> maskRows = new ArrayList<>();
        long[] nextPosition = new long[batch];
        for (int b = 0; b < batch; b++) {
            long[] p = prompts.get(b);
            int padding = longest - p.length;
            long[] mask = new long[longest];
            for (int t = 0; t < longest; t++) {
                boolean real = t >= padding;
                ids[b * longest + t] = real ? p[t - padding] : pad;
                mask[t] = real ? 1 : 0;
                positions[b * longest + t] = real ? t - padding : 1;
            }
            maskRows.add(mask);
            nextPosition[b] = p.length;
        }

        List<List<Long>> generated = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            generated.add(new ArrayList<>());
        }
        boolean[] finished = new boolean[batch];
        Map<String, OnnxTensor> past = emptyPast(batch);
        OrtSession.Result previous = null;
        try {
            long[] stepIds = ids;
            long[] stepPositions = positions;
            int stepLength = longest;
            for (int step = 0; step < maxNewTokens; step++) {
                Map<String, OnnxTensor> feed = new LinkedHashMap<>(past);
                List<OnnxTensor> owned = new ArrayList<>();
                try {
                    owned.add(put(feed, "input_ids", stepIds, batch, stepLength));
                    owned.add(put(feed, "attention_mask", concatRows(maskRows), batch, maskRows.get(0).length));
                    owned.add(put(feed, "position_ids", stepPositions, batch, stepLength));
                    OrtSession.Result result = model.session().run(feed);
                    if (previous != null) {
                        previous.close();
                    } else {
                        past.values().forEach(OnnxTensor::close);
                    }
                    previous = result;
                    past = presents(result);

                    FloatBuffer logits = ((OnnxTensor) result.get(logitsName()).orElseThrow()).getFloatBuffer();
                    long[] next = new long[batch];
                    for (int b = 0; b < batch; b++) {
                        int offset = (b * stepLength + stepLength - 1) * vocab;
                        next[b] = finished[b] ? pad : argmax(logits, offset, vocab);
                        if (!finished[b]) {
                            generated.get(b).add(next[b]);
                            listener.onToken(b, step, next[b]);
                            finished[b] = model.eosIds().contains(next[b]);
                        }
                    }
                    if (allTrue(finished)) {
                        break;
                    }
                    stepIds = next;
                    stepLength = 1;
                    stepPositions = new long[batch];
                    for (int b = 0; b < batch; b++) {
                        stepPositions[b] = nextPosition[b]++;
                        maskRows.set(b, append(maskRows.get(b), 1));
                    }
                } finally {
                    owned.forEach(OnnxTensor::close);
                }
            }
        } catch (OrtException e) {
            throw new StepwiseException(model.dir() + ": ONNX Runtime failed while generating: " + e.getMessage(), e);
        } finally {
            if (previous != null) {
                previous.close();
            } else {
                past.values().forEach(OnnxTensor::close);
            }
        }

        List<long[]> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] p = prompts.get(b);
            List<Long> g = generated.get(b);
            long[] row = new long[p.length + g.size()];
            System.arraycopy(p, 0, row, 0, p.length);
            for (int i = 0; i < g.size(); i++) {
                row[p.length + i] = g.get(i);
            }
            out.add(row);
        }
        return out;
    }

    private void check(List<long[]> prompts, int maxNewTokens) {
        if (prompts.isEmpty()) {
            throw new StepwiseException("no prompt given");
        }
        if (maxNewTokens < 1) {
            throw new StepwiseException("max new tokens must be at least 1, got " + maxNewTokens);
        }
        int vocab = model.config().vocabSize();
        for (int r = 0; r < prompts.size(); r++) {
            long[] p = prompts.get(r);
            if (p.length == 0) {
                throw new StepwiseException("prompt row " + r + " is empty");
            }
            for (long id : p) {
                if (id < 0 || id >= vocab) {
                    throw new StepwiseException("prompt row " + r + ": token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            if (p.length + (long) maxNewTokens > model.config().maxPositions()) {
                throw new StepwiseException("prompt row " + r + ": " + p.length + " + " + maxNewTokens
                        + " tokens exceed the model's " + model.config().maxPositions() + " positions");
            }
        }
    }

    private String logitsName() {
        return model.spec().outputs().get(0).name();
    }

    /** Past tensors of length 0: prefill runs the same graph as decode. */
    private Map<String, OnnxTensor> emptyPast(int batch) throws RuntimeException {
        CacheDecl cache = model.spec().cache();
        Map<String, OnnxTensor> past = new LinkedHashMap<>();
        long[] shape = cacheShape(batch, 0);
        try {
            for (int l = 0; l < model.config().numLayers(); l++) {
                past.put(cache.pastName(l, "key"), model.emptyPast(shape));
                past.put(cache.pastName(l, "value"), model.emptyPast(shape));
            }
        } catch (OrtException e) {
            throw new StepwiseException("cannot create the empty KV cache: " + e.getMessage(), e);
        }
        return past;
    }

    private long[] cacheShape(int batch, int length) {
        List<String> axes = model.spec().cache().axes();
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
        CacheDecl cache = model.spec().cache();
        Map<String, OnnxTensor> next = new LinkedHashMap<>();
        for (int l = 0; l < model.config().numLayers(); l++) {
            for (String kind : new String[] {"key", "value"}) {
                OnnxValue v = result.get(cache.presentName(l, kind))
                        .orElseThrow(() -> new StepwiseException("the model has no output " + cache.presentName(0, kind)));
                next.put(cache.pastName(l, kind), (OnnxTensor) v);
            }
        }
        return next;
    }

    private OnnxTensor put(Map<String, OnnxTensor> feed, String name, long[] data, int batch, int length)
            throws OrtException {
        long[] shape = {batch, length};
        OnnxTensor t;
        if (inputTypes.get(name) == DType.INT32) {
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

    static long argmax(FloatBuffer logits, int offset, int vocab) {
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            float x = logits.get(offset + v);
            if (x > bestValue) {
                bestValue = x;
                best = v;
            }
        }
        return best;
    }

    private static long[] concatRows(List<long[]> rows) {
        int width = rows.get(0).length;
        long[] out = new long[rows.size() * width];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, out, r * width, width);
        }
        return out;
    }

    private static long[] append(long[] row, long value) {
        long[] out = java.util.Arrays.copyOf(row, row.length + 1);
        out[row.length] = value;
        return out;
    }

    private static boolean allTrue(boolean[] xs) {
        for (boolean x : xs) {
            if (!x) {
                return false;
            }
        }
        return true;
    }
}
