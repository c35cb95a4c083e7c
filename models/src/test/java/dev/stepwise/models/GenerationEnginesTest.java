package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.GenerationGraph;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import dev.stepwise.runtime.generate.GenerationEngines;
import dev.stepwise.runtime.generate.Generator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --generation} writes the whole-generation graphs next to {@code model.onnx}, sharing its weights, and
 * {@code generate --engine beam-search} gives the Java Generator's results.
 */
class GenerationEnginesTest {
    @TempDir
    static Path tmp;
    static Path exported;
    static final List<long[]> PROMPTS = List.of(
            new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
            new long[] {20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31},
            new long[] {500, 7, 300, 11, 999, 5, 42, 8, 311, 9, 17, 64});

    @BeforeAll
    static void export() {
        exported = Exporter.export(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2"), ExportOptions.defaults()
                .withGeneration(Set.of(GenerationGraph.BEAM_SEARCH, GenerationGraph.GREEDY_SEARCH))).outputDir();
    }

    static List<List<long[]>> run(GenerationEngines.Kind kind, GenerationConfig config) {
        GenerationEngine engine = GenerationEngines.create(kind, 1, BeamOptions.of(config), Generator.TokenListener.NONE);
        return engine.generate(exported, PROMPTS, config);
    }

    @Test
    void graphsAreWrittenNextToTheDecoder() {
        assertTrue(Files.exists(exported.resolve("model_beam_search.onnx")));
        assertTrue(Files.exists(exported.resolve("model_greedy_search.onnx")));
        assertTrue(!Files.exists(exported.resolve("model_sampling.onnx")), "only what was asked for");
    }

    @Test
    void beamSearchGraphEqualsJavaBeamSearch() {
        GenerationConfig config = GenerationConfig.greedy(8).toBuilder().numBeams(4).numReturnSequences(2).build(12);
        List<List<long[]>> java = run(GenerationEngines.Kind.JAVA, config);
        List<List<long[]>> graph = run(GenerationEngines.Kind.BEAM_SEARCH, config);
        assertEquals(java.size(), graph.size());
        for (int p = 0; p < PROMPTS.size(); p++) {
            assertEquals(2, graph.get(p).size());
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(java.get(p).get(r), graph.get(p).get(r), "prompt " + p + " sequence " + r);
            }
        }
    }

    @Test
    void greedySearchGraphEqualsJavaGreedy() {
        GenerationConfig config = GenerationConfig.greedy(8);
        List<List<long[]>> java = run(GenerationEngines.Kind.JAVA, config);
        List<List<long[]>> graph = run(GenerationEngines.Kind.BEAM_SEARCH, config);
        for (int p = 0; p < PROMPTS.size(); p++) {
            assertArrayEquals(java.get(p).get(0), graph.get(p).get(0), "prompt " + p);
        }
    }

    @Test
    void missingGraphIsNamed() {
        GenerationConfig sampling = GenerationConfig.greedy(4).toBuilder().doSample(true).seed(1).build(12);
        StepwiseException e = assertThrows(StepwiseException.class, () -> run(GenerationEngines.Kind.BEAM_SEARCH, sampling));
        assertTrue(e.getMessage().contains("model_sampling.onnx"), e.getMessage());
    }
}
