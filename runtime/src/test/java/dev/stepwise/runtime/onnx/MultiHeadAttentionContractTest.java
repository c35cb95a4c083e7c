package dev.stepwise.runtime.onnx;

import static dev.stepwise.runtime.onnx.OneNodeGraphs.assertClose;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.concat;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.input;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.maxDiff;
import static dev.stepwise.runtime.onnx.OneNodeGraphs.random;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link OrtFusions} relies on in ONNX Runtime's CPU {@code com.microsoft.MultiHeadAttention} (the version on
 * the class path, 1.22), on one-node graphs: q/k/v {@code [B, S, H * D]}, past {@code [B, H, P, D]} (an empty past
 * in a prompt), the present {@code [B, H, P + S, D]}; an {@code attention_bias} {@code [B, 1, S, T]} of 0 and the
 * lowest float is the only mask, and masks exactly: a left-padded row's real positions equal the unpadded row's, and a
 * local window (GPT-Neo's) equals attending the window's keys alone.
 */
class MultiHeadAttentionContractTest {
    static final int HEADS = 2;
    static final int HEAD = 8;
    static final int WIDTH = HEADS * HEAD;

    @TempDir
    Path tmp;

    @Test
    void attentionBiasMasksLeftPaddingExactly() throws Exception {
        Path model = mha();
        float[] q = random(1, 3 * WIDTH);
        float[] k = random(2, 3 * WIDTH);
        float[] v = random(3, 3 * WIDTH);
        Map<String, Ort.Out> alone = Ort.run(model, feeds(3, q, k, v, new float[0], new float[0], 0, 0, 0));

        // the same three tokens after two padding slots holding random q/k/v
        Map<String, Ort.Out> padded = Ort.run(model, feeds(5, concat(random(4, 2 * WIDTH), q),
                concat(random(5, 2 * WIDTH), k), concat(random(6, 2 * WIDTH), v), new float[0], new float[0], 0, 2, 0));
        assertClose("output at the real positions", alone.get("output").floats(),
                OneNodeGraphs.tail(padded.get("output").floats(), 3 * WIDTH));
        for (String present : List.of("present_key", "present_value")) {
            assertClose(present + " at the real slots", alone.get(present).floats(),
                    slots(padded.get(present).floats(), 5, 2, 5));
        }

        Map<String, Ort.Out> unmasked = Ort.run(model, feeds(5, concat(random(4, 2 * WIDTH), q),
                concat(random(5, 2 * WIDTH), k), concat(random(6, 2 * WIDTH), v), new float[0], new float[0], 0, 0, 0));
        assertTrue(maxDiff(alone.get("output").floats(),
                        OneNodeGraphs.tail(unmasked.get("output").floats(), 3 * WIDTH)) > 1e-3,
                "without the padding in the bias the row attends its padding (so the bias is what masks it)");
    }

    @Test
    void localWindowThroughTheBiasEqualsAttendingTheWindowAlone() throws Exception {
        Path model = mha();
        int past = 6;
        int window = 3;
        float[] q = random(1, WIDTH);
        float[] k = random(2, WIDTH);
        float[] v = random(3, WIDTH);
        float[] pastKey = random(4, HEADS * past * HEAD);
        float[] pastValue = random(5, HEADS * past * HEAD);
        Map<String, Ort.Out> windowed = Ort.run(model, feeds(1, q, k, v, pastKey, pastValue, past, 0, window));
        // the window (the query's own slot included) is the last window - 1 past slots and the new one
        int kept = window - 1;
        Map<String, Ort.Out> alone = Ort.run(model, feeds(1, q, k, v, slots(pastKey, past, past - kept, past),
                slots(pastValue, past, past - kept, past), kept, 0, 0));
        assertClose("output with the window in the bias", alone.get("output").floats(),
                windowed.get("output").floats());
        Map<String, Ort.Out> full = Ort.run(model, feeds(1, q, k, v, pastKey, pastValue, past, 0, 0));
        assertTrue(maxDiff(full.get("output").floats(), windowed.get("output").floats()) > 1e-3,
                "the window changes the output");
    }

    /** One MultiHeadAttention node: no packed bias, no key padding mask; the mask is the attention bias. */
    private Path mha() throws Exception {
        GraphBuilder g = new GraphBuilder("mha", 14);
        g.importOpset(OrtFusions.DOMAIN, 1);
        input(g, "query", 1, 1, "S", WIDTH);
        input(g, "key", 1, 1, "S", WIDTH);
        input(g, "value", 1, 1, "S", WIDTH);
        input(g, "bias", 1, 1, 1, "S", "T");
        input(g, "past_key", 1, 1, HEADS, "P", HEAD);
        input(g, "past_value", 1, 1, HEADS, "P", HEAD);
        List<String> out = g.addNode(OrtFusions.DOMAIN, "MultiHeadAttention", List.of("query", "key", "value", "", "",
                "bias", "past_key", "past_value"), 3, Attributes.of("num_heads", (long) HEADS),
                Attributes.of("scale", (float) (1 / Math.sqrt(HEAD))));
        String[] names = {"output", "present_key", "present_value"};
        for (int i = 0; i < 3; i++) {
            g.renameNodeOutput(out.get(i), names[i]);
            List<Object> dims = i == 0 ? Arrays.asList(null, null, null) : Arrays.asList(null, null, null, null);
            g.addOutput(GraphBuilder.tensorInfo(names[i], 1, dims));
        }
        Path file = tmp.resolve("mha.onnx");
        Files.write(file, g.build(false).toByteArray());
        return file;
    }

    /**
     * Batch-1 feeds of {@code sequence} new tokens after {@code past}; the bias is the plain graph's mask: causal, the
     * first {@code padded} slots masked, and with {@code window} &gt; 0 only the last {@code window} positions seen.
     */
    private static Map<String, HostTensor> feeds(int sequence, float[] q, float[] k, float[] v, float[] pastKey,
                                                 float[] pastValue, int past, int padded, int window) {
        int total = past + sequence;
        float[] bias = new float[sequence * total];
        for (int i = 0; i < sequence; i++) {
            int position = past + i;
            for (int j = 0; j < total; j++) {
                boolean allowed = j <= position && j >= padded && (window == 0 || j > position - window);
                bias[i * total + j] = allowed ? 0f : AttentionMask.lowest(DType.FLOAT);
            }
        }
        Map<String, HostTensor> f = new LinkedHashMap<>();
        f.put("query", HostTensor.ofFloats(q, 1, sequence, WIDTH));
        f.put("key", HostTensor.ofFloats(k, 1, sequence, WIDTH));
        f.put("value", HostTensor.ofFloats(v, 1, sequence, WIDTH));
        f.put("bias", HostTensor.ofFloats(bias, 1, 1, sequence, total));
        f.put("past_key", HostTensor.ofFloats(pastKey, 1, HEADS, past, HEAD));
        f.put("past_value", HostTensor.ofFloats(pastValue, 1, HEADS, past, HEAD));
        return f;
    }

    /** Slots {@code from .. to} of every head of a batch-1 {@code [1, H, total, D]} cache. */
    private static float[] slots(float[] cache, int total, int from, int to) {
        float[] out = new float[HEADS * (to - from) * HEAD];
        for (int h = 0; h < HEADS; h++) {
            System.arraycopy(cache, (h * total + from) * HEAD, out, h * (to - from) * HEAD, (to - from) * HEAD);
        }
        return out;
    }
}
