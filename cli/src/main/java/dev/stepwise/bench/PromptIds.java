package dev.stepwise.bench;

import java.util.SplittableRandom;

/** Random in-vocabulary prompts, the same for every engine in a run (seeded). */
final class PromptIds {
    private PromptIds() {
    }

    static long[][] random(int batch, int length, int vocabSize, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        long[][] rows = new long[batch][length];
        for (long[] row : rows) {
            for (int t = 0; t < length; t++) {
                row[t] = random.nextInt(vocabSize);
            }
        }
        return rows;
    }
}
