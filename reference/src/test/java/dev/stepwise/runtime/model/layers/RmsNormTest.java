package dev.stepwise.runtime.model.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.stepwise.reference.TorchOps;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import org.junit.jupiter.api.Test;

/** RMSNorm on the eager backend against values worked out by hand. */
class RmsNormTest {

    @Test
    void scalesEachRowByItsInverseRootMeanSquare() {
        float[] x = {3, 4, 0, 0, 1, 1, 1, 1};                   // rows: mean square 6.25 and 1
        float[] weight = {1, 2, 0.5f, -1};
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor y = RmsNorm.apply(ops, ops.input(HostTensor.ofFloats(x, 2, 4)),
                    ops.input(HostTensor.ofFloats(weight, 4)), 0f);
            assertArrayEquals(new float[] {1.2f, 3.2f, 0, 0, 1, 2, 0.5f, -1}, ops.toHost(y).floats(), 1e-6f);
        }
    }

    @Test
    void epsilonIsAddedToTheMeanSquare() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor y = RmsNorm.apply(ops, ops.input(HostTensor.ofFloats(new float[] {0.001f, -0.001f}, 1, 2)),
                    ops.input(HostTensor.ofFloats(new float[] {1, 1}, 2)), 1e-6f);
            // mean square 1e-6; 1e-6 + eps = 2e-6 → x / sqrt(2e-6)
            assertEquals(0.001 / Math.sqrt(2e-6), ops.toHost(y).floats()[0], 1e-5);
        }
    }
}
