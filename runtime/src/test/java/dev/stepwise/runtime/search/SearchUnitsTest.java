package dev.stepwise.runtime.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Output trimming, kinds and options: the parts of the search package that need no model. */
class SearchUnitsTest {
    static final long EOS = 50;
    static final long PAD = 1;

    static long[] trim(int[] row, int padded, long[] prompt, long eos, long pad) {
        return SearchEngine.trim(row, 0, row.length, padded, prompt, eos, pad);
    }

    @Test
    void leftPaddingIsReplacedByThePrompt() {
        assertArrayEquals(new long[] {7, 8, 20, 21}, trim(new int[] {padInt(), 7, 8, 20, 21}, 3, new long[] {7, 8}, EOS, PAD));
    }

    private static int padInt() {
        return (int) PAD;
    }

    @Test
    void eosEndsTheSequenceAndIsKept() {
        assertArrayEquals(new long[] {7, 8, 20, 50}, trim(new int[] {7, 8, 20, 50, 1, 1}, 2, new long[] {7, 8}, EOS, PAD));
    }

    @Test
    void padAfterThePromptStandsForEos() {
        // BeamSearch writes no eos for a finished hypothesis; GreedySearch writes the pad id in eos's place
        assertArrayEquals(new long[] {7, 8, 20, 50}, trim(new int[] {7, 8, 20, 1, 1, 1}, 2, new long[] {7, 8}, EOS, PAD));
    }

    @Test
    void eosOrPadInsideThePromptDoesNotCut() {
        assertArrayEquals(new long[] {50, 1, 20, 21}, trim(new int[] {50, 1, 20, 21}, 2, new long[] {50, 1}, EOS, PAD));
    }

    @Test
    void aSequenceWithoutEosRunsToMaxLength() {
        assertArrayEquals(new long[] {7, 8, 20, 21, 22}, trim(new int[] {7, 8, 20, 21, 22}, 2, new long[] {7, 8}, EOS, PAD));
    }

    @Test
    void withoutAKnownEosNothingIsCut() {
        assertArrayEquals(new long[] {7, 20, 50, 1}, trim(new int[] {7, 20, 50, 1}, 1, new long[] {7}, -1, PAD));
    }

    @Test
    void seedsFoldToInt32() {
        assertEquals(42, SearchEngine.seed(42));
        assertEquals(0, SearchEngine.seed(0));
        assertEquals(1, SearchEngine.seed(1L << 32));
    }

    static GenerationConfig config(boolean sample, int beams) {
        return new GenerationConfig.Builder().maxNewTokens(8).doSample(sample).topK(0).numBeams(beams).build(0);
    }

    @Test
    void theRequestPicksTheOperator() {
        assertEquals(SearchKind.GREEDY_SEARCH, SearchKind.forConfig(config(false, 1)));
        assertEquals(SearchKind.BEAM_SEARCH, SearchKind.forConfig(config(false, 4)));
        assertEquals(SearchKind.SAMPLING, SearchKind.forConfig(config(true, 1)));
        // a beam-sampling request cannot even be made: the config refuses it before any engine sees it
        StepwiseException e = assertThrows(StepwiseException.class, () -> config(true, 4));
        assertTrue(e.getMessage().contains("beam sampling"), e.getMessage());
    }

    @Test
    void kindsHaveCliNamesAndFiles() {
        assertEquals("model_beam_search.onnx", SearchKind.BEAM_SEARCH.fileName());
        assertEquals("model_greedy_search.onnx", SearchKind.GREEDY_SEARCH.fileName());
        assertEquals("model_sampling.onnx", SearchKind.SAMPLING.fileName());
        assertEquals(SearchKind.GREEDY_SEARCH, SearchKind.fromCliName("greedy-search"));
        assertEquals(SearchKind.BEAM_SEARCH, SearchKind.fromCliName("BEAM_SEARCH"));
        StepwiseException e = assertThrows(StepwiseException.class, () -> SearchKind.fromCliName("loop"));
        assertTrue(e.getMessage().contains("beam-search, greedy-search or sampling"), e.getMessage());
    }

    @Test
    void optionsComeFromTheRequestAndAreChecked() {
        GenerationConfig c = new GenerationConfig.Builder().maxNewTokens(8).doSample(true).temperature(0.8).topK(0)
                .topP(0.9).earlyStopping(BeamOptions.EarlyStopping.TRUE).noRepeatNgramSize(3)
                .eosTokenIds(List.of(7L, 9L)).padTokenId(4).build(0);
        SearchOptions o = SearchOptions.from(c);
        assertEquals(7, o.eosTokenId());
        assertEquals(4, o.padTokenId());
        assertEquals(3, o.noRepeatNgramSize());
        assertTrue(o.earlyStopping());
        assertEquals(0.8f, o.temperature());
        assertEquals(0.9f, o.topP());
        assertTrue(o.positionsFromMask());
        assertThrows(IllegalArgumentException.class, () -> SearchOptions.defaults().withSampling(0f, 1f));
        assertThrows(IllegalArgumentException.class, () -> SearchOptions.defaults().withSampling(1f, 0f));
        assertThrows(IllegalArgumentException.class, () -> SearchOptions.defaults().withNoRepeatNgramSize(-1));
    }
}
