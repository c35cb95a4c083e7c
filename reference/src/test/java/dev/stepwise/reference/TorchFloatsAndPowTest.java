package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.floats;
import static dev.stepwise.reference.TorchAsserts.shape;

import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.ops.Tensor;
import org.junit.jupiter.api.Test;

/** Float vector constants and powers with a tensor exponent (rotary frequencies computed at run time). */
class TorchFloatsAndPowTest {

    @Test
    void floatsMakesARankOneConstant() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            assertFloats(ops, shape(3), new float[] {0.5f, -2f, 1e-3f}, ops.floats(0.5f, -2f, 1e-3f));
            assertFloats(ops, shape(0), new float[0], ops.floats());
        }
    }

    @Test
    void powWithATensorExponentBroadcasts() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor base = floats(ops, new float[] {100f}, 1);
            Tensor exponents = ops.floats(0f, 0.5f, 1f, -0.25f);
            assertFloats(ops, shape(4), new float[] {1f, 10f, 100f, (float) Math.pow(100, -0.25)},
                    ops.pow(base, exponents));
            Tensor bases = floats(ops, new float[] {2f, 3f, 4f, 9f}, 2, 2);
            assertFloats(ops, shape(2, 2), new float[] {4f, (float) Math.sqrt(3), 16f, 3f},
                    ops.pow(bases, ops.floats(2f, 0.5f)));
        }
    }
}
