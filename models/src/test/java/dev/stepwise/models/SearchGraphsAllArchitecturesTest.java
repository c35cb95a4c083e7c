package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.GenerationGraph;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngines;
import dev.stepwise.runtime.generate.Generator;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * For every architecture (GQA included), the exported BeamSearch and GreedySearch graphs (ONNX Runtime's contrib
 * operators around Stepwise's decoder) give the Java Generator's results for the same settings. Beam search is
 * compared under onnxruntime's length convention, which is the operator's.
 */
class SearchGraphsAllArchitecturesTest {
    @TempDir
    Path tmp;

    static final List<long[]> PROMPTS = List.of(
            new long[] {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22},
            new long[] {300, 301, 302, 303, 304, 305},
            new long[] {7, 77, 777, 70, 700, 71, 710, 72, 720});

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"gpt2,tiny", "gpt_neo,tiny", "opt,tiny", "biogpt,tiny", "llama,tiny-gqa", "mistral,tiny"})
    void searchGraphsEqualJavaGenerator(String arch, String preset) {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write(arch, preset, checkpoint, 11);
        Path exported = Exporter.export(checkpoint, tmp.resolve("onnx"), ExportOptions.defaults().withValidate(false)
                .withGeneration(Set.of(GenerationGraph.BEAM_SEARCH, GenerationGraph.GREEDY_SEARCH))).outputDir();

        GenerationConfig greedy = GenerationConfig.greedy(8);
        List<List<long[]>> javaGreedy = GenerationEngines.create(GenerationEngines.Kind.JAVA, 1, BeamOptions.of(greedy),
                Generator.TokenListener.NONE).generate(exported, PROMPTS, greedy);
        List<List<long[]>> opGreedy = GenerationEngines.create(GenerationEngines.Kind.BEAM_SEARCH, 1, BeamOptions.of(greedy),
                Generator.TokenListener.NONE).generate(exported, PROMPTS, greedy);
        for (int p = 0; p < PROMPTS.size(); p++) {
            assertArrayEquals(javaGreedy.get(p).get(0), opGreedy.get(p).get(0), arch + " greedy, prompt " + p);
        }

        GenerationConfig beam = GenerationConfig.greedy(8).toBuilder().numBeams(4).numReturnSequences(2).build(12);
        BeamOptions ortConvention = BeamOptions.of(beam).withConvention(BeamOptions.Convention.ONNX_RUNTIME);
        List<List<long[]>> javaBeam = GenerationEngines.create(GenerationEngines.Kind.JAVA, 1, ortConvention,
                Generator.TokenListener.NONE).generate(exported, PROMPTS, beam);
        List<List<long[]>> opBeam = GenerationEngines.create(GenerationEngines.Kind.BEAM_SEARCH, 1, ortConvention,
                Generator.TokenListener.NONE).generate(exported, PROMPTS, beam);
        for (int p = 0; p < PROMPTS.size(); p++) {
            assertEquals(2, opBeam.get(p).size());
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(javaBeam.get(p).get(r), opBeam.get(p).get(r), arch + " beam, prompt " + p + " seq " + r);
            }
        }
    }
}
