package dev.stepwise.runtime.quantize;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.tensor.HostTensor;
import dev.stepwise.runtime.unroll.StepGraphs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs an unrolled folder's step chain on text, teacher-forced: step 0 (prefill) reads the first L tokens of a window,
 * step s ≥ 1 reads token {@code L + s - 1} of it and the previous step's presents as its past, as {@link StepGraphs}
 * does in generation. Feeding the text's own tokens (not each model's argmax) keeps a float and a quantized chain on
 * the same inputs at every step, so their next-token logits can be compared step by step; calibration runs the same
 * chain to observe every step graph's activations.
 */
final class StepChain {
    /** One step's outputs, every graph output by name. */
    interface StepOutputs {
        void accept(int step, Map<String, HostTensor> outputs);
    }

    private StepChain() {
    }

    /** Windows of {@code L + steps - 1} tokens cut from the rows, grouped {@code batch} at a time. */
    static List<long[][]> windows(List<long[]> rows, StepGraphs graphs, String what) {
        int batch = graphs.manifest().batch();
        int length = graphs.manifest().sequence() + graphs.manifest().steps().size() - 1;
        List<long[]> cut = new ArrayList<>();
        for (long[] r : rows) {
            for (int at = 0; at + length <= r.length; at += length) {
                cut.add(Arrays.copyOfRange(r, at, at + length));
            }
        }
        List<long[][]> batches = new ArrayList<>();
        for (int i = 0; i + batch <= cut.size(); i += batch) {
            batches.add(cut.subList(i, i + batch).toArray(long[][]::new));
        }
        if (batches.isEmpty()) {
            throw new StepwiseException(what + ": no input is long enough for the step chain of " + graphs.dir()
                    + " (" + batch + " rows of at least " + length + " tokens: the prompt length "
                    + graphs.manifest().sequence() + " plus one token per later step)");
        }
        return batches;
    }

    /** Runs every step of {@code graphs} on one window batch, handing each step's outputs to {@code sink}. */
    static void run(StepGraphs graphs, long[][] window, StepOutputs sink) {
        int batch = window.length;
        int prompt = graphs.manifest().sequence();
        int steps = graphs.manifest().steps().size();
        CacheDecl cache = graphs.cache();
        int layers = graphs.config().numLayers();
        Map<String, HostTensor> past = new HashMap<>();
        try {
            for (int s = 0; s < steps; s++) {
                int length = s == 0 ? prompt : 1;
                int total = prompt + s;
                long[] ids = new long[batch * length];
                long[] positions = new long[batch * length];
                long[] mask = new long[batch * total];
                Arrays.fill(mask, 1);
                for (int b = 0; b < batch; b++) {
                    for (int j = 0; j < length; j++) {
                        int at = s == 0 ? j : prompt + s - 1;
                        ids[b * length + j] = window[b][at];
                        positions[b * length + j] = at;
                    }
                }
                Map<String, HostTensor> in = new HashMap<>(past);
                in.put("input_ids", HostTensor.ofLongs(ids, batch, length));
                in.put("attention_mask", HostTensor.ofLongs(mask, batch, total));
                in.put("position_ids", HostTensor.ofLongs(positions, batch, length));
                OrtSession session = graphs.session(s);
                in.keySet().retainAll(session.getInputInfo().keySet());
                Map<String, HostTensor> out = OrtRunner.run(session, in);
                sink.accept(s, out);
                past.clear();
                for (int l = 0; l < layers; l++) {
                    for (String kind : new String[] {"key", "value"}) {
                        past.put(cache.pastName(l, kind), out.get(cache.presentName(l, kind)));
                    }
                }
            }
        } catch (OrtException e) {
            throw new StepwiseException(graphs.dir() + ": ONNX Runtime failed on the step chain: " + e.getMessage(), e);
        }
    }
}
