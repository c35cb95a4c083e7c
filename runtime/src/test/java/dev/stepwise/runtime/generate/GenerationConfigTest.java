package dev.stepwise.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generation_config.json defaults, overrides, length resolution and the rules for impossible options. */
class GenerationConfigTest {
    @TempDir
    Path dir;

    @Test
    void readsGenerationConfigJsonAndFlagsOverrideIt() throws Exception {
        Files.writeString(dir.resolve("generation_config.json"), """
                {"max_length": 30, "do_sample": true, "temperature": 0.7, "top_k": 0, "top_p": 0.9,
                 "num_beams": 1, "repetition_penalty": 1.3, "no_repeat_ngram_size": 3,
                 "eos_token_id": [5, 6], "pad_token_id": 0, "num_return_sequences": 2,
                 "early_stopping": "never", "transformers_version": "4.40.0"}""");
        GenerationConfig.Builder b = GenerationConfig.Builder.fromModelDir(dir);
        GenerationConfig c = b.build(10);
        assertEquals(20, c.maxNewTokens(), "max_length counts the prompt");
        assertTrue(c.doSample());
        assertEquals(0.7, c.temperature());
        assertEquals(0, c.topK());
        assertEquals(0.9, c.topP());
        assertEquals(1.3, c.repetitionPenalty());
        assertEquals(3, c.noRepeatNgramSize());
        assertEquals(List.of(5L, 6L), c.eosTokenIds());
        assertEquals(0, c.padTokenId());
        assertEquals(2, c.numReturnSequences());
        assertEquals(BeamOptions.EarlyStopping.NEVER, b.beamOptions().earlyStopping());
        // the built config keeps "never" too, so what LanguageModel and Generator derive from it agrees
        assertEquals(BeamOptions.EarlyStopping.NEVER, BeamOptions.of(c).earlyStopping());
        assertFalse(c.earlyStopping());

        GenerationConfig o = b.maxNewTokens(4).temperature(1.5).build(10);
        assertEquals(4, o.maxNewTokens(), "max_new_tokens wins over max_length");
        assertEquals(1.5, o.temperature());
    }

    @Test
    void transformersDefaultsWithoutAFile() {
        GenerationConfig c = GenerationConfig.Builder.fromModelDir(dir).build(7);
        assertEquals(20, c.maxNewTokens());
        assertEquals(false, c.doSample());
        assertEquals(50, c.topK());
        assertEquals(1, c.numBeams());
        assertEquals(1.0, c.lengthPenalty());
        assertEquals(List.of(), c.eosTokenIds(), "eos from the model");
        assertEquals(-1, c.padTokenId(), "pad from the model");
    }

    @Test
    void mistypedKeysNameTheFile() throws Exception {
        Files.writeString(dir.resolve("generation_config.json"), "{\"num_beams\": \"four\"}");
        StepwiseException e = assertThrows(StepwiseException.class, () -> GenerationConfig.Builder.fromModelDir(dir));
        assertTrue(e.getMessage().contains("generation_config.json") && e.getMessage().contains("num_beams"), e.getMessage());
    }

    @Test
    void impossibleOptionsAreRejectedWithTheirNames() {
        assertRejected(new GenerationConfig.Builder().numBeams(2).numReturnSequences(3), "num_return_sequences");
        assertRejected(new GenerationConfig.Builder().doSample(true).topP(0), "top_p");
        assertRejected(new GenerationConfig.Builder().doSample(true).topP(1.5), "top_p");
        assertRejected(new GenerationConfig.Builder().doSample(true).temperature(0), "temperature");
        assertRejected(new GenerationConfig.Builder().doSample(true).temperature(-1), "temperature");
        assertRejected(new GenerationConfig.Builder().doSample(true).numBeams(3), "beam sampling");
        assertRejected(new GenerationConfig.Builder().numReturnSequences(2), "num_return_sequences");
        assertRejected(new GenerationConfig.Builder().maxNewTokens(0), "max_new_tokens");
        assertRejected(new GenerationConfig.Builder().maxNewTokens(3).minNewTokens(4), "min_new_tokens");
        assertRejected(new GenerationConfig.Builder().repetitionPenalty(0), "repetition_penalty");
        assertRejected(new GenerationConfig.Builder().topK(-1), "top_k");
        assertRejected(new GenerationConfig.Builder().maxLength(5), "max_length");
    }

    private static void assertRejected(GenerationConfig.Builder b, String name) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> b.build(5));
        assertTrue(e.getMessage().contains(name), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }
}
