package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class StepInputsTest {
    @Test
    void prefillIsThePromptWithAFullMaskAndCountingPositions() {
        StepInputs in = StepInputs.prefill(new long[][] {{5, 6, 7}, {8, 9, 10}});

        assertArrayEquals(new long[] {5, 6, 7, 8, 9, 10}, in.inputIds());
        assertArrayEquals(new long[] {0, 1, 2, 0, 1, 2}, in.positionIds());
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1}, in.attentionMask());
        assertEquals(2, in.batch());
        assertEquals(3, in.sequence());
        assertEquals(3, in.total());
    }

    @Test
    void decodeStepIsOneTokenAtTheNextPositionAndAMaskOverPastAndIt() {
        StepInputs in = StepInputs.decode(new long[] {42, 43}, 3);

        assertArrayEquals(new long[] {42, 43}, in.inputIds());
        assertArrayEquals(new long[] {3, 3}, in.positionIds());
        assertEquals(2 * 4, in.attentionMask().length);
        assertTrue(Arrays.stream(in.attentionMask()).allMatch(m -> m == 1));
        assertEquals(1, in.sequence());
        assertEquals(4, in.total());
    }

    @Test
    void randomPromptsAreInVocabularyAndRepeatableBySeed() {
        long[][] a = PromptIds.random(3, 50, 17, 9);
        long[][] b = PromptIds.random(3, 50, 17, 9);

        assertTrue(Arrays.deepEquals(a, b));
        assertTrue(Arrays.stream(a).flatMapToLong(Arrays::stream).allMatch(id -> id >= 0 && id < 17));
    }
}
