package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.stepwise.runtime.StepwiseException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Summarising ONNX Runtime's profile JSON: kernel events after the warm-up runs, by op type, per run. */
class OpProfileTest {
    /** Three runs at ts 0, 100, 200: a MatMul and a GroupQueryAttention kernel in each, plus non-kernel events. */
    static final String PROFILE = """
            [{"cat":"Session","name":"session_initialization","ts":0,"dur":50},
             {"cat":"Session","name":"model_run","ts":0,"dur":90},
             {"cat":"Node","name":"/MatMul_kernel_time","ts":10,"dur":1000,"args":{"op_name":"MatMul"}},
             {"cat":"Node","name":"/MatMul_fence_before","ts":9,"dur":0,"args":{"op_name":"MatMul"}},
             {"cat":"Session","name":"model_run","ts":100,"dur":90},
             {"cat":"Node","name":"/MatMul_kernel_time","ts":110,"dur":300,"args":{"op_name":"MatMul"}},
             {"cat":"Node","name":"/GQA_kernel_time","ts":150,"dur":100,"args":{"op_name":"GroupQueryAttention"}},
             {"cat":"Session","name":"model_run","ts":200,"dur":90},
             {"cat":"Node","name":"/MatMul_kernel_time","ts":210,"dur":500,"args":{"op_name":"MatMul"}},
             {"cat":"Node","name":"/GQA_kernel_time","ts":250,"dur":300,"args":{"op_name":"GroupQueryAttention"}}]
            """;

    @Test
    void countsKernelTimeAfterTheWarmUpRunsPerRun() {
        OpProfile p = OpProfile.summarise(PROFILE, 32, 1);
        assertEquals(List.of("MatMul", "GroupQueryAttention"), List.copyOf(p.byOp().keySet()), "largest first");
        assertEquals(0.4, p.byOp().get("MatMul"), 1e-12, "(300 + 500) us over 2 runs");
        assertEquals(0.2, p.byOp().get("GroupQueryAttention"), 1e-12);
        assertEquals(0.6, p.totalMs(), 1e-12);
        assertEquals(32, p.past());
    }

    @Test
    void aProfileWithNoRunAfterTheWarmUpIsAnError() {
        StepwiseException e = assertThrows(StepwiseException.class, () -> OpProfile.summarise(PROFILE, 32, 3));
        assertEquals("ONNX Runtime's profile has 3 runs; expected more than 3", e.getMessage());
    }
}
