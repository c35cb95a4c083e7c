package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.search.SearchEngine;
import dev.stepwise.runtime.search.SearchGraphBuilder;
import dev.stepwise.runtime.search.SearchKind;
import dev.stepwise.runtime.search.SearchOptions;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stepwise's BeamSearch / GreedySearch / Sampling graphs around the traced GPT-2 of {@code gpt2-tiny-random}, against
 * onnxruntime's own graphs of the same weights ({@code upstream-onnx/gpt2-generation-ops}) and the Java generator.
 */
class SearchGpt2Test {
    static final long EOS = 98;
    static final int VOCAB = 1000;

    @TempDir
    static Path tmp;
    static ExportResult decoder;
    static Map<SearchKind, Path> graphs = new LinkedHashMap<>();
    static Path contractPositions;
    static Path weightsInDecoder;
    /** The same weights with eos 832 (a token the tiny model produces) and pad 1: ends of sequences get exercised. */
    static Path eosCheckpoint;
    static ExportResult eosDecoder;
    static Map<SearchKind, Path> eosGraphs = new LinkedHashMap<>();

    @BeforeAll
    static void build() {
        Path checkpointDir = Fixtures.path("gpt2-tiny-random");
        decoder = Gpt2Exporter.run(checkpointDir, tmp.resolve("decoder"));
        Path configFile = checkpointDir.resolve("config.json");
        Architecture gpt2 = Architectures.forModelType("gpt2", configFile.toString());
        ModelConfig config = ModelConfig.read(configFile, gpt2.spec().configKeys());
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir)) {
            for (SearchKind kind : SearchKind.values()) {
                graphs.put(kind, SearchGraphBuilder.write(kind, gpt2, config, checkpoint, SearchOptions.defaults(),
                        tmp, kind.fileName(), Long.MAX_VALUE));
            }
            contractPositions = SearchGraphBuilder.write(SearchKind.BEAM_SEARCH, gpt2, config, checkpoint,
                    SearchOptions.defaults().withPositionsFromMask(false), tmp, "contract_positions.onnx", Long.MAX_VALUE);
            weightsInDecoder = SearchGraphBuilder.write(SearchKind.BEAM_SEARCH, gpt2, config, checkpoint,
                    SearchOptions.defaults().withWeightsInDecoder(true), tmp, "weights_in_decoder.onnx", Long.MAX_VALUE);
        }

        eosCheckpoint = tmp.resolve("eos-832");
        try {
            Files.createDirectories(eosCheckpoint);
            Files.copy(checkpointDir.resolve("model.safetensors"), eosCheckpoint.resolve("model.safetensors"));
            Files.writeString(eosCheckpoint.resolve("config.json"), Files.readString(configFile)
                    .replace("\"eos_token_id\": 98", "\"eos_token_id\": 832")
                    .replace("\"pad_token_id\": 98", "\"pad_token_id\": 1"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        eosDecoder = Gpt2Exporter.run(eosCheckpoint, tmp.resolve("eos-decoder"));
        ModelConfig eosConfig = ModelConfig.read(eosCheckpoint.resolve("config.json"), gpt2.spec().configKeys());
        assertEquals(List.of(832L), eosConfig.eosTokenIds());
        try (Checkpoint checkpoint = Checkpoint.open(eosCheckpoint)) {
            for (SearchKind kind : SearchKind.values()) {
                eosGraphs.put(kind, SearchGraphBuilder.write(kind, gpt2, eosConfig, checkpoint,
                        SearchOptions.defaults(), tmp, "eos_" + kind.fileName(), Long.MAX_VALUE));
            }
        }
    }

    /** Three 12-token prompts without the pad/eos id 98, so onnxruntime's pad detection sees no padding. */
    static List<long[]> prompts() {
        Random random = new Random(20240501);
        List<long[]> prompts = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            long[] p = new long[12];
            for (int i = 0; i < p.length; i++) {
                long id;
                do {
                    id = random.nextInt(VOCAB);
                } while (id == EOS);
                p[i] = id;
            }
            prompts.add(p);
        }
        return prompts;
    }

    static GenerationConfig beam(int beams, int returned, int maxNewTokens) {
        return new GenerationConfig.Builder().maxNewTokens(maxNewTokens).topK(0).numBeams(beams)
                .numReturnSequences(returned).build(0);
    }

    static GenerationConfig sampling(long seed, int maxNewTokens, int returned) {
        return new GenerationConfig.Builder().maxNewTokens(maxNewTokens).doSample(true).topK(0).seed(seed)
                .numReturnSequences(returned).build(0);
    }

    /** Runs a search graph on the given int32 inputs and returns {@code sequences} as it comes. */
    static int[] run(Path model, Map<String, Object> inputs) throws Exception {
        OrtEnvironment env = OrtSessions.environment();
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try (OrtSession session = OrtSessions.open(model, 1)) {
            for (String name : session.getInputNames()) {
                Object v = inputs.get(name);
                assertTrue(v != null, model.getFileName() + " wants input " + name);
                if (v instanceof float[] f) {
                    feed.put(name, OnnxTensor.createTensor(env, FloatBuffer.wrap(f), new long[] {1}));
                } else if (v instanceof int[][] m) {
                    int[] flat = Arrays.stream(m).flatMapToInt(Arrays::stream).toArray();
                    feed.put(name, OnnxTensor.createTensor(env, IntBuffer.wrap(flat), new long[] {m.length, m[0].length}));
                } else {
                    feed.put(name, OnnxTensor.createTensor(env, IntBuffer.wrap((int[]) v), new long[] {1}));
                }
            }
            try (OrtSession.Result result = session.run(feed)) {
                IntBuffer b = ((OnnxTensor) result.get("sequences").orElseThrow()).getIntBuffer();
                int[] out = new int[b.remaining()];
                b.get(out);
                return out;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    static Map<String, Object> beamInputs(List<long[]> prompts, int maxLength, int beams, int returned) {
        int[][] ids = new int[prompts.size()][];
        int[][] mask = new int[prompts.size()][];
        for (int r = 0; r < ids.length; r++) {
            ids[r] = Arrays.stream(prompts.get(r)).mapToInt(Math::toIntExact).toArray();
            mask[r] = new int[ids[r].length];
            Arrays.fill(mask[r], 1);
        }
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("input_ids", ids);
        in.put("attention_mask", mask);
        in.put("max_length", new int[] {maxLength});
        in.put("min_length", new int[] {0});
        in.put("num_beams", new int[] {beams});
        in.put("num_return_sequences", new int[] {returned});
        in.put("length_penalty", new float[] {1f});
        in.put("repetition_penalty", new float[] {1f});
        in.put("seed", new int[] {7});
        return in;
    }

    static Path upstream(String name) {
        return Fixtures.path("upstream-onnx/gpt2-generation-ops/" + name);
    }

    @Test
    void beamSearchGivesTheUpstreamGraphsSequences() throws Exception {
        for (int returned : new int[] {1, 4}) {
            Map<String, Object> in = beamInputs(prompts(), 20, 4, returned);
            int[] expected = run(upstream("tiny_gpt2_beamsearch.onnx"), in);
            assertEquals(3 * returned * 20, expected.length);
            assertArrayEquals(expected, run(graphs.get(SearchKind.BEAM_SEARCH), in),
                    "BeamSearch sequences, num_return_sequences " + returned);
            assertArrayEquals(expected, run(contractPositions, in), "with the operator's own position ids");
            assertArrayEquals(expected, run(weightsInDecoder, in), "with the weights inside the decoder subgraph");
        }
    }

    @Test
    void searchEngineReturnsTheBeamsOfEveryPromptInOrder() throws Exception {
        List<long[]> prompts = prompts();
        int[] raw = run(upstream("tiny_gpt2_beamsearch.onnx"), beamInputs(prompts, 20, 4, 4));
        List<long[]> beams = SearchEngine.generate(graphs.get(SearchKind.BEAM_SEARCH), SearchKind.BEAM_SEARCH, prompts,
                beam(4, 4, 8), EOS);
        assertEquals(12, beams.size());
        for (int i = 0; i < beams.size(); i++) {
            long[] expected = upToEos(Arrays.copyOfRange(raw, i * 20, i * 20 + 20), 12);
            assertArrayEquals(expected, beams.get(i), "prompt " + i / 4 + ", beam " + i % 4);
            assertArrayEquals(prompts.get(i / 4), Arrays.copyOf(beams.get(i), 12));
        }
    }

    @Test
    void searchEngineRunsOnnxruntimesOwnGraphToo() {
        // no Stepwise metadata and no attention_mask input: eos comes from the request, equal prompts need no padding
        List<long[]> prompts = prompts();
        GenerationConfig request = new GenerationConfig.Builder().maxNewTokens(8).topK(0).numBeams(4)
                .numReturnSequences(2).eosTokenIds(List.of(EOS)).build(0);
        List<long[]> upstream = SearchEngine.generate(upstream("tiny_gpt2_beamsearch.onnx"), SearchKind.BEAM_SEARCH,
                prompts, request, EOS);
        List<long[]> ours = SearchEngine.generate(graphs.get(SearchKind.BEAM_SEARCH), SearchKind.BEAM_SEARCH, prompts,
                request, EOS);
        assertEquals(6, upstream.size());
        for (int i = 0; i < 6; i++) {
            assertArrayEquals(upstream.get(i), ours.get(i), "sequence " + i);
        }
    }

    /** Raw upstream output cut after the first eos past the prompt. */
    static long[] upToEos(int[] row, int promptLength) {
        int end = row.length;
        for (int t = promptLength; t < row.length; t++) {
            if (row[t] == EOS) {
                end = t + 1;
                break;
            }
        }
        return Arrays.stream(Arrays.copyOf(row, end)).asLongStream().toArray();
    }

    @Test
    void greedySearchGivesTheJavaGeneratorsTokens() {
        List<long[]> prompts = new ArrayList<>(prompts());
        prompts.add(new long[] {4, 8, 15});
        prompts.add(new long[] {16, 23, 98, 42, 108}); // the pad/eos id inside a prompt: positions come from the mask
        List<long[]> expected;
        try (ExportedModel model = ExportedModel.open(decoder.outputDir(), 1)) {
            expected = new Generator(model).greedy(prompts, 10);
        }
        List<long[]> actual = SearchEngine.generate(graphs.get(SearchKind.GREEDY_SEARCH), SearchKind.GREEDY_SEARCH,
                prompts, GenerationConfig.greedy(10), EOS);
        assertEquals(prompts.size(), actual.size());
        for (int r = 0; r < prompts.size(); r++) {
            assertArrayEquals(expected.get(r), actual.get(r), "row " + r);
        }
    }

    @Test
    void rowsEndAtEosLikeTheJavaGenerator() {
        // With eos 832: row 1 stops after four 948s, row 3 (padded) on its own schedule, the others run to the end.
        List<long[]> prompts = List.of(new long[] {5, 6, 7, 8}, new long[] {9, 10, 11, 12}, new long[] {3, 1, 4},
                new long[] {2, 7, 1, 8, 2, 8});
        List<long[]> expected;
        try (ExportedModel model = ExportedModel.open(eosDecoder.outputDir(), 1)) {
            expected = new Generator(model).greedy(prompts, 16);
        }
        assertArrayEquals(new long[] {9, 10, 11, 12, 948, 948, 948, 948, 832}, expected.get(1));
        List<long[]> actual = SearchEngine.generate(eosGraphs.get(SearchKind.GREEDY_SEARCH), SearchKind.GREEDY_SEARCH,
                prompts, GenerationConfig.greedy(16), 1);
        for (int r = 0; r < prompts.size(); r++) {
            assertArrayEquals(expected.get(r), actual.get(r), "row " + r);
        }
    }

    @Test
    void finishedBeamHypothesesEndWithEos() {
        List<long[]> prompts = List.of(new long[] {5, 6, 7, 8}, new long[] {9, 10, 11, 12});
        List<long[]> beams = SearchEngine.generate(eosGraphs.get(SearchKind.BEAM_SEARCH), SearchKind.BEAM_SEARCH,
                prompts, beam(4, 4, 16), 1);
        assertEquals(8, beams.size());
        int finished = 0;
        for (int i = 0; i < beams.size(); i++) {
            long[] row = beams.get(i);
            assertArrayEquals(prompts.get(i / 4), Arrays.copyOf(row, 4));
            assertTrue(row.length <= 20);
            for (int t = 4; t < row.length - 1; t++) {
                assertNotEquals(832L, row[t], "eos only at the end");
                assertNotEquals(1L, row[t], "no padding inside");
            }
            if (row[row.length - 1] == 832) {
                finished++;
            } else {
                assertEquals(20, row.length, "a beam without eos runs to max length");
            }
        }
        assertTrue(finished >= 1, "some beam meets eos");
        assertArrayEquals(new long[] {9, 10, 11, 12, 948, 832}, beams.get(4), "the second prompt's best beam");
    }

    @Test
    void greedySearchGivesTheUpstreamGraphsSequences() throws Exception {
        Map<String, Object> in = beamInputs(prompts(), 24, 1, 1);
        int[] expected = run(upstream("tiny_gpt2_greedysearch_with_init_decoder.onnx"), in);
        int[] actual = run(graphs.get(SearchKind.GREEDY_SEARCH), in);
        assertArrayEquals(expected, actual);
    }

    @Test
    void samplingIsWellFormedAndReproducibleForASeed() {
        List<long[]> prompts = prompts();
        Path graph = graphs.get(SearchKind.SAMPLING);
        List<long[]> first = SearchEngine.generate(graph, SearchKind.SAMPLING, prompts, sampling(42, 8, 2), EOS);
        List<long[]> again = SearchEngine.generate(graph, SearchKind.SAMPLING, prompts, sampling(42, 8, 2), EOS);
        List<long[]> other = SearchEngine.generate(graph, SearchKind.SAMPLING, prompts, sampling(43, 8, 2), EOS);
        assertEquals(6, first.size(), "two samples per prompt, rows in order");
        boolean differs = false;
        for (int i = 0; i < first.size(); i++) {
            long[] row = first.get(i);
            assertArrayEquals(prompts.get(i / 2), Arrays.copyOf(row, 12));
            assertTrue(row.length > 12 && row.length <= 20, "1..8 new tokens, got " + (row.length - 12));
            for (long id : row) {
                assertTrue(id >= 0 && id < VOCAB);
            }
            for (int t = 12; t < row.length - 1; t++) {
                assertNotEquals(EOS, row[t], "nothing after eos");
            }
            assertArrayEquals(row, again.get(i), "same seed, same tokens");
            differs |= !Arrays.equals(row, other.get(i));
        }
        assertTrue(differs, "another seed draws other tokens");
    }

    @Test
    void upstreamSamplingGraphRuns() throws Exception {
        int[] out = run(upstream("tiny_gpt2_sampling.onnx"), beamInputs(prompts(), 16, 1, 1));
        assertEquals(3 * 16, out.length);
    }

    @Test
    void requestsTheGraphCannotHonourAreRefused() {
        Path greedy = graphs.get(SearchKind.GREEDY_SEARCH);
        List<long[]> prompts = prompts();
        StepwiseException kind = assertThrows(StepwiseException.class,
                () -> SearchEngine.generate(greedy, SearchKind.BEAM_SEARCH, prompts, beam(4, 1, 4), EOS));
        assertTrue(kind.getMessage().contains("GreedySearch"), kind.getMessage());
        StepwiseException topK = assertThrows(StepwiseException.class,
                () -> SearchEngine.generate(graphs.get(SearchKind.SAMPLING), SearchKind.SAMPLING, prompts,
                        new GenerationConfig.Builder().maxNewTokens(4).doSample(true).topK(5).seed(1).build(0), EOS));
        assertTrue(topK.getMessage().contains("top-k"), topK.getMessage());
        StepwiseException temperature = assertThrows(StepwiseException.class,
                () -> SearchEngine.generate(graphs.get(SearchKind.SAMPLING), SearchKind.SAMPLING, prompts,
                        new GenerationConfig.Builder().maxNewTokens(4).doSample(true).temperature(0.7).topK(0).seed(1)
                                .build(0), EOS));
        assertTrue(temperature.getMessage().contains("temperature=1.0"), temperature.getMessage());
        StepwiseException eos = assertThrows(StepwiseException.class,
                () -> SearchEngine.generate(greedy, SearchKind.GREEDY_SEARCH, prompts,
                        new GenerationConfig.Builder().maxNewTokens(4).topK(0).eosTokenIds(List.of(5L, 98L)).build(0),
                        EOS));
        assertTrue(eos.getMessage().contains("exactly one"), eos.getMessage());
        assertTrue(Files.isRegularFile(greedy));
    }
}
