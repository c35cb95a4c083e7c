package dev.stepwise.runtime.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A language model made of a hash: the logits after a sequence are a deterministic function of the whole sequence,
 * so reordering rows and feeding tokens must keep each row's own sequence, as a KV cache must.
 */
final class FakeLm implements StepModel {
    final int vocab;
    final float scale;
    final List<long[]> rows = new ArrayList<>();
    int steps;
    int reorders;

    FakeLm(int vocab, float scale, List<long[]> prompts) {
        this.vocab = vocab;
        this.scale = scale;
        rows.addAll(prompts);
    }

    static float[] logitsAfter(long[] sequence, int vocab, float scale) {
        long h = 1125899906842597L;
        for (long t : sequence) {
            h = 31 * h + t;
        }
        Random r = new Random(h);
        float[] logits = new float[vocab];
        for (int v = 0; v < vocab; v++) {
            logits[v] = (float) (r.nextGaussian() * scale);
        }
        return logits;
    }

    @Override
    public int rows() {
        return rows.size();
    }

    @Override
    public float[] logits(int row) {
        return logitsAfter(rows.get(row), vocab, scale);
    }

    @Override
    public void step(long[] tokens) {
        steps++;
        for (int r = 0; r < rows.size(); r++) {
            long[] s = Arrays.copyOf(rows.get(r), rows.get(r).length + 1);
            s[s.length - 1] = tokens[r];
            rows.set(r, s);
        }
    }

    @Override
    public void reorder(int[] from) {
        reorders++;
        List<long[]> old = new ArrayList<>(rows);
        for (int i = 0; i < from.length; i++) {
            rows.set(i, old.get(from[i]));
        }
    }
}
