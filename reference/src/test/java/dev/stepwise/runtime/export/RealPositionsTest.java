package dev.stepwise.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.stepwise.runtime.tensor.HostTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * How an {@code --optimize ort} graph's outputs are compared: zeros at exactly the padded positions of the mask (the
 * queries of logits, the key slots of presents, aligned with the mask's last slots), every other value kept.
 */
class RealPositionsTest {
    @Test
    void zeroesPaddedQueriesAndKeySlotsOnly() {
        // row 0 unpadded, row 1 with two padding slots; total length 4, the last 2 slots are this call's tokens
        HostTensor mask = HostTensor.ofLongs(new long[] {1, 1, 1, 1, 0, 0, 1, 1}, 2, 4);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        out.put("logits", HostTensor.ofFloats(count(2 * 2 * 3), 2, 2, 3));          // [B, S=2, V=3]
        out.put("present.0.key", HostTensor.ofFloats(count(2 * 2 * 4 * 1), 2, 2, 4, 1)); // [B, KV=2, T=4, D=1]
        HostTensor scalar = HostTensor.ofFloats(new float[] {7}, 1);
        out.put("other", scalar);

        Map<String, HostTensor> kept = Validator.atRealPositions(out, mask);
        // both of row 1's new tokens are real (slots 2, 3): logits unchanged
        assertArrayEquals(count(12), kept.get("logits").floats());
        // row 1's slots 0 and 1 are padding, in each KV head
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 11, 12, 0, 0, 15, 16},
                kept.get("present.0.key").floats());
        assertSame(scalar, kept.get("other"), "an output without the batch and position axes is left as it is");

        // a prefill whose own tokens include row 1's padding: those queries' logits are zeroed
        HostTensor prefillMask = HostTensor.ofLongs(new long[] {1, 1, 1, 0, 1, 1}, 2, 3);
        Map<String, HostTensor> prefill = Validator.atRealPositions(
                Map.of("logits", HostTensor.ofFloats(count(2 * 3 * 2), 2, 3, 2)), prefillMask);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 0, 0, 9, 10, 11, 12}, prefill.get("logits").floats());
    }

    /** 1, 2, ..., n. */
    private static float[] count(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i + 1;
        }
        return x;
    }
}
