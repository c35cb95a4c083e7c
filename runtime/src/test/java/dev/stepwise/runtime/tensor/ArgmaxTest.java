package dev.stepwise.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ArgmaxTest {
    @Test
    void indexIsRelativeToTheRowStart() {
        float[] logits = {9, 1, 3, 7, 3, 7, 2};

        assertEquals(2, Argmax.of(logits, 1, 3)); // row {1, 3, 7}
    }

    @Test
    void theFirstOfEqualMaximaWinsAsInTorchArgmax() {
        float[] logits = {9, 1, 3, 7, 3, 7, 2};

        assertEquals(0, Argmax.of(logits, 3, 4)); // row {7, 3, 7, 2}
        assertEquals(0, Argmax.of(new float[] {5, 5, 5}));
    }
}
