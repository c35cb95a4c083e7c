package dev.stepwise.runtime.export;

import dev.stepwise.runtime.tensor.HostTensor;
import java.util.SplittableRandom;

/**
 * Fills dummy input tensors the way a real batch looks: ids inside the vocabulary, left padding in all rows but the
 * first, position ids derived from the mask (cumulative sum − 1, padded slots set to 1, as transformers does), and
 * small random past key/values.
 */
public final class DummyTensors {
    private DummyTensors() {
    }

    /** Random ids in {@code [0, vocab)}, shape {@code [batch, sequence]}. */
    public static HostTensor inputIds(long vocab, long batch, long sequence, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[Math.toIntExact(batch * sequence)];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextLong(vocab);
        }
        return HostTensor.ofLongs(ids, batch, sequence);
    }

    /**
     * Mask {@code [batch, total]}: row 0 attends everywhere; row b ≥ 1 has its first {@code b * total / (2 * batch)}
     * slots padded (at least one when total ≥ 2), so a padded row exists whenever batch ≥ 2. The last slot is never
     * padded, so every row has a real token to predict from.
     */
    public static HostTensor attentionMask(long batch, long total) {
        return paddedMask(batch, total, true);
    }

    /** Position ids {@code [batch, sequence]} for the last {@code sequence} slots of {@code mask}. */
    public static HostTensor positionIds(HostTensor mask, long sequence) {
        long batch = mask.dim(0);
        long total = mask.dim(1);
        long[] pos = new long[Math.toIntExact(batch * sequence)];
        for (int b = 0; b < batch; b++) {
            long running = 0;
            for (long t = 0; t < total; t++) {
                long m = mask.longs()[(int) (b * total + t)];
                running += m;
                long p = m == 0 ? 1 : running - 1;
                long s = t - (total - sequence);
                if (s >= 0) {
                    pos[(int) (b * sequence + s)] = p;
                }
            }
        }
        return HostTensor.ofLongs(pos, batch, sequence);
    }

    /** Random floats in [-1, 1) of the given shape (past keys and values). */
    public static HostTensor randomFloats(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[Math.toIntExact(HostTensor.elementCount(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return HostTensor.ofFloats(v, shape);
    }

    /** Zeros of the given shape and integer type (an input the generator knows nothing about). */
    public static HostTensor zerosLong(long... shape) {
        return HostTensor.ofLongs(new long[Math.toIntExact(HostTensor.elementCount(shape))], shape);
    }

    /**
     * Mask {@code [batch, sequence]} padded on the right (BERT's side): row 0 is all tokens, row b ≥ 1 has its last
     * {@code b * sequence / (2 * batch)} slots padded (at least one when sequence ≥ 2); the first slot is never padded.
     */
    public static HostTensor rightPaddedMask(long batch, long sequence) {
        return paddedMask(batch, sequence, false);
    }

    /**
     * Token types {@code [batch, sequence]} of a sentence pair: 1 on the second half of each row's real tokens (all 0
     * when the model has fewer than two types).
     */
    public static HostTensor sentencePairTypes(HostTensor mask, int typeVocabSize) {
        long batch = mask.dim(0);
        long sequence = mask.dim(1);
        long[] types = new long[Math.toIntExact(batch * sequence)];
        for (int b = 0; b < batch; b++) {
            long real = 0;
            for (long t = 0; t < sequence; t++) {
                real += mask.longs()[(int) (b * sequence + t)];
            }
            for (long t = real / 2; typeVocabSize >= 2 && t < real; t++) {
                types[(int) (b * sequence + t)] = 1;
            }
        }
        return HostTensor.ofLongs(types, batch, sequence);
    }

    /**
     * Mask {@code [batch, length]} whose row {@code b} has {@code b * length / (2 * batch)} slots padded on the left or
     * the right: none in row 0, at least one in the others when length ≥ 2, and never all of them.
     */
    private static HostTensor paddedMask(long batch, long length, boolean left) {
        long[] mask = new long[Math.toIntExact(batch * length)];
        for (int b = 0; b < batch; b++) {
            long pad = Math.min(b == 0 ? 0 : Math.max(length >= 2 ? 1 : 0, b * length / (2 * batch)), length - 1);
            for (long t = 0; t < length; t++) {
                boolean padded = left ? t < pad : t >= length - pad;
                mask[(int) (b * length + t)] = padded ? 0 : 1;
            }
        }
        return HostTensor.ofLongs(mask, batch, length);
    }
}
