package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The id inputs every engine is fed: left padding, the mask, positions following it, and reordering rows. */
class KvDecodingTest {
    /** Records what it is fed; logits say nothing. */
    private static class Recorder implements DecoderStep {
        final List<StepIds> fed = new ArrayList<>();
        int[] reordered;
        boolean closed;

        @Override
        public float[][] run(StepIds in) {
            fed.add(in);
            return new float[in.rows()][3];
        }

        @Override
        public void reorderCache(int[] from) {
            reordered = from.clone();
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void prefillIsThePromptsLeftPaddedWithPositionsFollowingTheMask() {
        Recorder engine = new Recorder();
        KvDecoding.start(engine, List.of(new long[] {5, 6, 7}, new long[] {8}), 3, 0);

        StepIds in = engine.fed.get(0);
        assertArrayEquals(new long[] {5, 6, 7, 0, 0, 8}, in.inputIds());
        assertArrayEquals(new long[] {1, 1, 1, 0, 0, 1}, in.attentionMask());
        assertArrayEquals(new long[] {0, 1, 2, 1, 1, 0}, in.positionIds());
        assertEquals(2, in.rows());
        assertEquals(3, in.length());
        assertEquals(3, in.total());
    }

    @Test
    void aStepIsOneTokenAtEachRowsNextPositionAndOneMoreMaskSlot() {
        Recorder engine = new Recorder();
        KvDecoding run = KvDecoding.start(engine, List.of(new long[] {5, 6, 7}, new long[] {8}), 3, 0);
        run.step(new long[] {42, 43});

        StepIds in = engine.fed.get(1);
        assertArrayEquals(new long[] {42, 43}, in.inputIds());
        assertArrayEquals(new long[] {3, 1}, in.positionIds());
        assertArrayEquals(new long[] {1, 1, 1, 1, 0, 0, 1, 1}, in.attentionMask());
        assertEquals(1, in.length());
        assertEquals(4, in.total());
    }

    @Test
    void reorderMovesTheCacheMaskAndPositionsTogetherAndSkipsTheIdentity() {
        Recorder engine = new Recorder();
        KvDecoding run = KvDecoding.start(engine, List.of(new long[] {5, 6, 7}, new long[] {8}), 3, 0);
        run.reorder(new int[] {0, 1});
        assertEquals(null, engine.reordered);

        run.reorder(new int[] {1, 1});
        run.step(new long[] {42, 43});
        assertArrayEquals(new int[] {1, 1}, engine.reordered);
        StepIds in = engine.fed.get(1);
        assertArrayEquals(new long[] {1, 1}, in.positionIds());
        assertArrayEquals(new long[] {0, 0, 1, 1, 0, 0, 1, 1}, in.attentionMask());
    }

    @Test
    void aFailedPrefillClosesTheEngine() {
        Recorder engine = new Recorder() {
            @Override
            public float[][] run(StepIds in) {
                throw new IllegalStateException("no");
            }
        };
        assertThrows(IllegalStateException.class, () -> KvDecoding.start(engine, List.of(new long[] {1}), 1, 0));
        assertTrue(engine.closed);
    }
}
