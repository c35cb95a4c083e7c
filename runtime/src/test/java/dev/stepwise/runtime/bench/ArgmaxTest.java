package dev.stepwise.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class ArgmaxTest {
    @Test
    void indexIsRelativeToTheRowStart() {
        FloatBuffer logits = FloatBuffer.wrap(new float[] {9, 1, 3, 7, 3, 7, 2});

        assertEquals(2, Argmax.of(logits, 1, 3)); // row {1, 3, 7}
    }

    @Test
    void theFirstOfEqualMaximaWinsAsInTorchArgmax() {
        FloatBuffer logits = FloatBuffer.wrap(new float[] {9, 1, 3, 7, 3, 7, 2});

        assertEquals(0, Argmax.of(logits, 3, 4)); // row {7, 3, 7, 2}
    }
}
