package dev.stepwise.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.tensor.HostTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The float16 validation rule: max abs diff within atol + rtol × max |reference|, and clear greedy choices kept. */
class RelativeToleranceTest {
    private static Map<String, HostTensor> outputs(float[] logits, float[] present) {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("logits", HostTensor.ofFloats(logits, 1, 2, 4));
        m.put("present.0.key", HostTensor.ofFloats(present, 1, 1, 2, 2));
        return m;
    }

    @Test
    void toleranceScalesWithEachOutputsMagnitude() {
        float[] ref = {10, 2, 1, 0, 4, 3.99f, 0, -1};
        float[] got = {10.015f, 2, 1, 0, 3.99f, 4, 0, -1};         // off by 0.015; position 1's top two swap
        float[] presentRef = {0.5f, -0.25f, 0.125f, 0};
        float[] presentGot = {0.5005f, -0.25f, 0.125f, 0};
        ValidationCase c = Validator.compare("case", outputs(ref, presentRef), outputs(got, presentGot), 1e-4, 2e-3,
                "logits");
        assertEquals(1e-4 + 2e-3 * 10, c.tolerance("logits"), 1e-9);
        assertEquals(1e-4 + 2e-3 * 0.5, c.tolerance("present.0.key"), 1e-9);
        assertEquals(1, c.argmaxCompared(), "only position 0 has a top-2 margin above the tolerance");
        assertEquals(1, c.argmaxAgreed());
        assertTrue(c.passed(), c.toString());
        assertEquals(0.015 / 10, c.worstRelative(), 1e-4);

        float[] worse = got.clone();
        worse[0] = 10.05f;
        ValidationCase failed = Validator.compare("case", outputs(ref, presentRef), outputs(worse, presentGot), 1e-4,
                2e-3, "logits");
        assertFalse(failed.passed());
        String message = Validator.failureMessage(List.of(failed));
        assertTrue(message.contains("logits max abs diff") && message.contains("of max |reference|")
                && !message.contains("present"), message);
    }

    @Test
    void aChangedClearGreedyChoiceFails() {
        float[] ref = {1, 0.7f, 0, 0, 1, 0, 0, 0};                // margins 0.3 and 1, both above 0.2001
        float[] got = {0.85f, 0.86f, 0, 0, 1, 0, 0, 0};            // within 0.2001, yet the first choice flips
        ValidationCase c = Validator.compare("case", outputs(ref, new float[4]), outputs(got, new float[4]), 1e-4, 0.2,
                "logits");
        assertTrue(c.maxAbsDiff().get("logits") <= c.tolerance("logits"), "within tolerance");
        assertEquals(2, c.argmaxCompared());
        assertEquals(1, c.argmaxAgreed());
        assertFalse(c.passed());
        assertTrue(Validator.failureMessage(List.of(c)).contains("greedy token differs at 1 of 2 positions"));
    }

    @Test
    void withoutRtolTheRuleIsTheAbsoluteOne() {
        float[] ref = {1, 0.9f, 0, 0, 1, 0, 0, 0};
        float[] got = {1.00005f, 0.9f, 0, 0, 1, 0, 0, 0};
        ValidationCase c = Validator.compare("case", outputs(ref, new float[4]), outputs(got, new float[4]), 1e-4);
        assertEquals(1e-4, c.tolerance("logits"));
        assertEquals(0, c.argmaxCompared());
        assertTrue(c.passed());
        assertEquals(ExportOptions.FLOAT32_RTOL, ExportOptions.defaults().effectiveRtol());
        assertEquals(0, ExportOptions.defaults().withRtol(0).effectiveRtol());
        assertEquals(ExportOptions.FLOAT16_RTOL, ExportOptions.defaults().withDtype(DType.FLOAT16).effectiveRtol());
        assertEquals(5e-3, ExportOptions.defaults().withDtype(DType.FLOAT16).withRtol(5e-3).effectiveRtol());
    }
}
