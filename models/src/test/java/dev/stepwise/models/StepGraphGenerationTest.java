package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every generation option through an unrolled folder (batch 4, prompt length 8, 6 steps) gives the tokens the dynamic
 * decoder gives for the same request: sampling with seeds, beam search (2 prompts × 2 beams fill the 4 rows),
 * repetition penalty, n-gram ban, min_new_tokens, eos override, prompts shorter than the unrolled length; streaming
 * hears every token; requests beyond the unrolled shapes are refused naming the option.
 */
class StepGraphGenerationTest {
    @TempDir
    static Path tmp;
    static Path steps;
    static Path dynamic;

    static final List<long[]> FOUR = List.of(new long[] {5, 6, 7, 8, 9, 10, 11, 12}, new long[] {40, 41, 42},
            new long[] {3, 3, 3, 3, 3, 3, 3, 3}, new long[] {99, 98, 97, 96, 95});
    static final List<long[]> TWO = List.of(FOUR.get(0), FOUR.get(1));

    @BeforeAll
    static void unrollAndExport() throws IOException {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("llama", "tiny-gqa", checkpoint, 11);
        steps = Unroller.unroll(checkpoint, tmp.resolve("steps"), UnrollOptions.of(4, 8, 6)).outputDir();
        dynamic = tmp.resolve("dynamic");
        Exporter.export(checkpoint, dynamic, ExportOptions.defaults().withValidate(false));
        assertTrue(Files.isDirectory(steps));
    }

    @Test
    void everyOptionGivesTheDynamicDecodersTokens() {
        GenerationConfig base = GenerationConfig.greedy(6);
        List<GenerationConfig> requests = List.of(
                base.toBuilder().repetitionPenalty(1.4).build(8),
                base.toBuilder().noRepeatNgramSize(2).build(8),
                base.toBuilder().minNewTokens(4).eosTokenIds(List.of(1L, 7L)).build(8),
                base.toBuilder().doSample(true).temperature(0.8).topK(20).topP(0.9).seed(42).build(8));
        try (ExportedModel model = ExportedModel.open(dynamic, 1); StepGraphs graphs = StepGraphs.open(steps, 1)) {
            for (GenerationConfig request : requests) {
                assertSame(new Generator(model).generate(FOUR, request), new Generator(graphs).generate(FOUR, request),
                        request.toString());
            }
            GenerationConfig twoSamples = base.toBuilder().doSample(true).seed(7).numReturnSequences(2).build(8);
            assertSame(new Generator(model).generate(TWO, twoSamples), new Generator(graphs).generate(TWO, twoSamples),
                    "two samples per prompt");
            GenerationConfig beams = GenerationConfig.beamSearch(6, 2, 1.0, false, 2);
            assertSame(new Generator(model).generate(TWO, beams), new Generator(graphs).generate(TWO, beams),
                    "beam search, 2 prompts x 2 beams");
        }
    }

    @Test
    void streamingHearsEveryTokenAndSessionsAreReused() {
        try (StepGraphs graphs = StepGraphs.open(steps, 1)) {
            List<Long> heard = new ArrayList<>();
            List<List<long[]>> out = new Generator(graphs).generate(FOUR, GenerationConfig.greedy(6),
                    (row, step, token) -> {
                        if (row == 0) {
                            heard.add(token);
                        }
                    });
            long[] row0 = out.get(0).get(0);
            assertEquals(row0.length - FOUR.get(0).length, heard.size());
            for (int i = 0; i < heard.size(); i++) {
                assertEquals(row0[FOUR.get(0).length + i], heard.get(i));
            }
            int opened = graphs.openSessions();
            new Generator(graphs).generate(FOUR, GenerationConfig.greedy(6));
            assertEquals(opened, graphs.openSessions(), "the second generation opens no session");
            assertTrue(graphs.mappedWeightBytes() > 0, "weights come from the shared memory map");
        }
    }

    @Test
    void requestsBeyondTheUnrolledShapesNameTheOption() {
        try (StepGraphs graphs = StepGraphs.open(steps, 1)) {
            Generator g = new Generator(graphs);
            String beams = assertThrows(UnsupportedOptionException.class,
                    () -> g.generate(FOUR, GenerationConfig.beamSearch(6, 2, 1.0, false, 1))).getMessage();
            assertTrue(beams.startsWith("num_beams 2 is not supported by the step-graph engine"), beams);
            String tokens = assertThrows(UnsupportedOptionException.class,
                    () -> g.generate(FOUR, GenerationConfig.greedy(7))).getMessage();
            assertTrue(tokens.startsWith("max_new_tokens 7"), tokens);
            List<long[]> longPrompt = new ArrayList<>(FOUR);
            longPrompt.set(0, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
            assertThrows(UnsupportedOptionException.class, () -> g.generate(longPrompt, GenerationConfig.greedy(2)));
        }
    }

    static void assertSame(List<List<long[]>> expected, List<List<long[]>> actual, String what) {
        assertEquals(expected.size(), actual.size(), what);
        for (int p = 0; p < expected.size(); p++) {
            assertEquals(expected.get(p).size(), actual.get(p).size(), what + " prompt " + p);
            for (int s = 0; s < expected.get(p).size(); s++) {
                assertArrayEquals(expected.get(p).get(s), actual.get(p).get(s), what + " prompt " + p + " sequence " + s);
            }
        }
    }
}
