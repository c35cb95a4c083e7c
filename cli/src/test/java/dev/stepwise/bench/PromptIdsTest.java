package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PromptIdsTest {
    @Test
    void randomPromptsAreInVocabularyAndRepeatableBySeed() {
        long[][] a = PromptIds.random(3, 50, 17, 9);
        long[][] b = PromptIds.random(3, 50, 17, 9);

        assertTrue(Arrays.deepEquals(a, b));
        assertTrue(Arrays.stream(a).flatMapToLong(Arrays::stream).allMatch(id -> id >= 0 && id < 17));
    }
}
