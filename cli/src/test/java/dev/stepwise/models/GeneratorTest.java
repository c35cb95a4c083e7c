package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import dev.stepwise.runtime.generate.GenerationEngines;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.JavaEngine;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java generator on the exported tiny GPT-2: greedy, seeded sampling, beam search, engines and the CLI. */
class GeneratorTest {
    static final List<long[]> PROMPTS = List.of(new long[] {0, 0, 0, 52, 7, 300, 11, 999, 97, 5},
            new long[] {4, 8, 15}, new long[] {16, 23, 42, 108, 7});

    @TempDir
    static Path tmp;
    static Path exported;

    @BeforeAll
    static void export() {
        exported = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-tiny")).outputDir();
    }

    @Test
    void generateWithGreedyConfigIsGreedy() {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator g = new Generator(model);
            List<long[]> greedy = g.greedy(PROMPTS, 12);
            List<List<long[]>> viaConfig = g.generate(PROMPTS, GenerationConfig.greedy(12));
            for (int r = 0; r < PROMPTS.size(); r++) {
                assertEquals(1, viaConfig.get(r).size());
                assertArrayEquals(greedy.get(r), viaConfig.get(r).get(0), "row " + r);
                assertEquals(PROMPTS.get(r).length + 12, greedy.get(r).length, "no eos in 12 tokens of this model");
            }
        }
    }

    @Test
    void seededSamplingIsReproducibleAndSeedsDiffer() {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator g = new Generator(model);
            GenerationConfig a = GenerationConfig.sampling(12, 1.0, 0, 1.0, 7);
            List<List<long[]>> first = g.generate(PROMPTS, a);
            List<List<long[]>> again = g.generate(PROMPTS, a);
            List<List<long[]>> other = g.generate(PROMPTS, GenerationConfig.sampling(12, 1.0, 0, 1.0, 8));
            boolean differ = false;
            for (int r = 0; r < PROMPTS.size(); r++) {
                assertArrayEquals(first.get(r).get(0), again.get(r).get(0), "row " + r + " reproducible");
                differ |= !Arrays.equals(first.get(r).get(0), other.get(r).get(0));
            }
            assertTrue(differ, "seeds 7 and 8 give different tokens");
        }
    }

    @Test
    void topKOneSamplingAndOneBeamSearchAreGreedy() {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator g = new Generator(model);
            List<long[]> greedy = g.greedy(PROMPTS, 12);
            List<List<long[]>> topK1 = g.generate(PROMPTS, GenerationConfig.sampling(12, 0.8, 1, 1.0, 123));
            GenerationConfig oneBeam = GenerationConfig.beamSearch(12, 1, 1.0, false, 1);
            List<List<long[]>> beam = g.beamSearch(PROMPTS, oneBeam, BeamOptions.of(oneBeam));
            for (int r = 0; r < PROMPTS.size(); r++) {
                assertArrayEquals(greedy.get(r), topK1.get(r).get(0), "top_k=1, row " + r);
                assertArrayEquals(greedy.get(r), beam.get(r).get(0), "num_beams=1, row " + r);
            }
        }
    }

    @Test
    void paddedBeamSearchGivesEachPromptItsOwnBeams() {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator g = new Generator(model);
            GenerationConfig config = GenerationConfig.beamSearch(8, 3, 1.0, false, 3);
            List<List<long[]>> batch = g.generate(PROMPTS, config);
            for (int r = 0; r < PROMPTS.size(); r++) {
                List<long[]> alone = g.generate(List.of(PROMPTS.get(r)), config).get(0);
                assertEquals(3, batch.get(r).size());
                for (int j = 0; j < 3; j++) {
                    assertArrayEquals(alone.get(j), batch.get(r).get(j), "prompt " + r + " sequence " + j);
                }
            }
        }
    }

    @Test
    void streamingHearsGreedyTokensAndBeamSearchRefusesIt() {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator g = new Generator(model);
            List<String> heard = new ArrayList<>();
            List<long[]> out = g.greedy(PROMPTS, 5, (row, step, token) -> heard.add(row + ":" + step + ":" + token));
            assertEquals(15, heard.size());
            assertEquals("1:4:" + out.get(1)[3 + 4], heard.stream().filter(h -> h.startsWith("1:4:")).findFirst().orElseThrow());
            StepwiseException e = assertThrows(StepwiseException.class, () -> g.generate(PROMPTS,
                    GenerationConfig.beamSearch(5, 2, 1.0, false, 1), (row, step, token) -> { }));
            assertTrue(e.getMessage().contains("beam search"), e.getMessage());
        }
    }

    @Test
    void javaEngineReadsGenerationConfigJson() throws Exception {
        Path dir = copyOfExport("with-generation-config");
        Files.writeString(dir.resolve("generation_config.json"),
                "{\"num_beams\": 3, \"num_return_sequences\": 2, \"max_new_tokens\": 6, \"eos_token_id\": 98}");
        GenerationConfig config = GenerationConfig.Builder.fromModelDir(dir).build(10);
        assertEquals(3, config.numBeams());
        GenerationEngine engine = new JavaEngine(1);
        List<List<long[]>> viaEngine = engine.generate(dir, PROMPTS, config);
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            List<List<long[]>> direct = new Generator(model).generate(PROMPTS,
                    GenerationConfig.beamSearch(6, 3, 1.0, false, 2));
            for (int r = 0; r < PROMPTS.size(); r++) {
                assertEquals(2, viaEngine.get(r).size());
                for (int j = 0; j < 2; j++) {
                    assertArrayEquals(direct.get(r).get(j), viaEngine.get(r).get(j));
                }
            }
        }
    }

    // ---- command line ----

    record Run(int status, String out, String err) {
    }

    static Run cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = Main.run(args);
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static final String IDS = "0,0,0,52,7,300,11,999,97,5;4,8,15;16,23,42,108,7";

    @Test
    void cliBeamSearchPrintsOneLinePerReturnedSequenceInPromptOrder() {
        Run run = cli("generate", "--model", exported.toString(), "--input-ids", IDS, "--print-ids", "--threads", "1",
                "--num-beams", "3", "--num-return-sequences", "2", "--max-new-tokens", "6", "--early-stopping");
        assertEquals(0, run.status(), run.err());
        String[] lines = run.out().strip().split("\n");
        assertEquals(6, lines.length, run.out());
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            List<List<long[]>> expected = new Generator(model).generate(PROMPTS,
                    GenerationConfig.beamSearch(6, 3, 1.0, true, 2));
            for (int b = 0; b < 3; b++) {
                for (int j = 0; j < 2; j++) {
                    assertEquals(join(expected.get(b).get(j)), lines[b * 2 + j].strip(), "line " + (b * 2 + j));
                }
            }
        }
    }

    @Test
    void cliSamplingIsReproducible() {
        String[] args = {"generate", "--model", exported.toString(), "--input-ids", IDS, "--print-ids", "--threads", "1",
            "--do-sample", "--temperature", "0.9", "--top-k", "40", "--top-p", "0.95", "--seed", "5",
            "--max-new-tokens", "8", "--repetition-penalty", "1.2", "--no-repeat-ngram-size", "3"};
        Run a = cli(args);
        Run b = cli(args);
        assertEquals(0, a.status(), a.err());
        assertEquals(a.out(), b.out());
        assertEquals(3, a.out().strip().split("\n").length);
    }

    @Test
    void cliRejectsImpossibleOptionsWithStatus2AndOneLine() {
        String model = exported.toString();
        String[][] cases = {
            {"--greedy", "--do-sample"},
            {"--num-beams", "2", "--num-return-sequences", "3"},
            {"--do-sample", "--top-p", "0"},
            {"--do-sample", "--top-p", "1.5"},
            {"--do-sample", "--temperature", "0"},
            {"--do-sample", "--temperature", "-1"},
            {"--greedy", "--num-beams", "4"},
            {"--temperature", "0.7"},
            {"--length-penalty", "2"},
            {"--num-return-sequences", "2"},
            {"--do-sample", "--num-beams", "2"},
            {"--early-stopping=sometimes", "--num-beams", "2"},
            {"--engine", "gpu"},
            {"--max-new-tokens", "0"},
        };
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of("generate", "--model", model, "--input-ids", "1,2,3", "--print-ids"));
            args.addAll(Arrays.asList(c));
            Run run = cli(args.toArray(String[]::new));
            assertEquals(2, run.status(), String.join(" ", c) + " -> " + run.err());
            assertEquals(1, run.err().strip().split("\n").length, String.join(" ", c) + " -> " + run.err());
            assertTrue(run.err().startsWith("error: "), run.err());
            assertTrue(run.out().isEmpty(), run.out());
        }
    }

    @Test
    void cliSaysWhichGenerationFileIsMissing() {
        Run loop = cli("generate", "--model", exported.toString(), "--input-ids", "1,2,3", "--print-ids",
                "--engine", "loop");
        assertEquals(1, loop.status());
        assertTrue(loop.err().contains("model_loop.onnx") && loop.err().contains("--generation loop"), loop.err());
        Run beam = cli("generate", "--model", exported.toString(), "--input-ids", "1,2,3", "--print-ids",
                "--engine", "beam-search", "--num-beams", "2");
        assertEquals(1, beam.status());
        assertTrue(beam.err().contains("model_beam_search.onnx"), beam.err());
    }

    private static Path copyOfExport(String name) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        try (var files = Files.list(exported)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    private static String join(long[] ids) {
        StringBuilder sb = new StringBuilder();
        for (long id : ids) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(id);
        }
        return sb.toString();
    }
}
