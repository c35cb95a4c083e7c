package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.search.SearchEngine;
import dev.stepwise.runtime.search.SearchGraphBuilder;
import dev.stepwise.runtime.search.SearchKind;
import dev.stepwise.runtime.search.SearchOptions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every architecture on the class path, from a random checkpoint, wrapped in BeamSearch and GreedySearch: greedy
 * search gives the Java generator's tokens (padded batch), beam search gives the beams of a step-by-step reference
 * beam search over the exported decoder. Architectures whose class or random layout is not on the class path are
 * skipped.
 */
class SearchArchitecturesTest {
    static final int NEW_TOKENS = 8;

    @TempDir
    Path tmp;

    static Stream<Arguments> presets() {
        return Stream.of(Arguments.of("gpt2", "tiny"), Arguments.of("gpt_neo", "tiny"), Arguments.of("llama", "tiny"),
                Arguments.of("llama", "tiny-gqa"), Arguments.of("opt", "tiny"), Arguments.of("biogpt", "tiny"));
    }

    record Built(Architecture architecture, ModelConfig config, Path decoderDir, Path greedy, Path beam) {
    }

    Built build(String arch, String preset) {
        assumeTrue(Architectures.all().containsKey(arch), arch + " is not on the class path");
        assumeTrue(RandomCheckpoint.archs().contains(arch) && RandomCheckpoint.presets(arch).contains(preset),
                "no random " + arch + " preset " + preset);
        Path checkpointDir = tmp.resolve("checkpoint");
        RandomCheckpoint.write(arch, preset, checkpointDir, 11);
        Path decoderDir = Exporter.export(checkpointDir, tmp.resolve("decoder"), ExportOptions.defaults()
                .withValidate(false)).outputDir();
        Path configFile = checkpointDir.resolve("config.json");
        Architecture architecture = Architectures.forModelType(arch, configFile.toString());
        ModelConfig config = ModelConfig.read(configFile, architecture.spec().configKeys());
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir)) {
            Path greedy = SearchGraphBuilder.write(SearchKind.GREEDY_SEARCH, architecture, config, checkpoint,
                    SearchOptions.defaults(), tmp, SearchKind.GREEDY_SEARCH.fileName(), Long.MAX_VALUE);
            Path beam = SearchGraphBuilder.write(SearchKind.BEAM_SEARCH, architecture, config, checkpoint,
                    SearchOptions.defaults(), tmp, SearchKind.BEAM_SEARCH.fileName(), Long.MAX_VALUE);
            return new Built(architecture, config, decoderDir, greedy, beam);
        }
    }

    static List<long[]> prompts(ModelConfig config, int... lengths) {
        Random random = new Random(31);
        List<long[]> prompts = new ArrayList<>();
        for (int length : lengths) {
            prompts.add(random.longs(length, 0, config.vocabSize()).toArray());
        }
        return prompts;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("presets")
    void greedySearchGivesTheJavaGeneratorsTokens(String arch, String preset) {
        Built built = build(arch, preset);
        List<long[]> prompts = prompts(built.config(), 7, 3, 5);
        try (ExportedModel model = ExportedModel.open(built.decoderDir(), 1)) {
            List<long[]> expected = new Generator(model).greedy(prompts, NEW_TOKENS);
            List<long[]> actual = SearchEngine.generate(built.greedy(), SearchKind.GREEDY_SEARCH, prompts,
                    GenerationConfig.greedy(NEW_TOKENS), model.padId());
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(expected.get(r), actual.get(r), arch + " " + preset + ", row " + r);
            }
            // one beam is greedy search
            List<long[]> oneBeam = SearchEngine.generate(built.beam(), SearchKind.BEAM_SEARCH, prompts,
                    beam(1, 1), model.padId());
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(expected.get(r), oneBeam.get(r), arch + " " + preset + ", one beam, row " + r);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("presets")
    void beamSearchGivesTheReferenceBeams(String arch, String preset) {
        Built built = build(arch, preset);
        List<long[]> prompts = prompts(built.config(), 6, 4);
        try (ExportedModel model = ExportedModel.open(built.decoderDir(), 1)) {
            List<long[]> actual = SearchEngine.generate(built.beam(), SearchKind.BEAM_SEARCH, prompts, beam(4, 3),
                    model.padId());
            assertEquals(6, actual.size());
            for (int p = 0; p < prompts.size(); p++) {
                List<long[]> expected = referenceBeams(model, prompts.get(p), 4, 3);
                for (int j = 0; j < 3; j++) {
                    assertArrayEquals(expected.get(j), actual.get(p * 3 + j),
                            arch + " " + preset + ", prompt " + p + ", beam " + j);
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void llamaFixtureGreedySearchGivesTheJavaGeneratorsTokens() {
        assumeTrue(Architectures.all().containsKey("llama"), "llama is not on the class path");
        Path checkpointDir = Fixtures.path("llama-tiny-random-fp16");
        Path decoderDir = Exporter.export(checkpointDir, tmp.resolve("decoder"), ExportOptions.defaults()
                .withValidate(false)).outputDir();
        Path configFile = checkpointDir.resolve("config.json");
        Architecture llama = Architectures.forModelType("llama", configFile.toString());
        ModelConfig config = ModelConfig.read(configFile, llama.spec().configKeys());
        Path greedy;
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir)) {
            greedy = SearchGraphBuilder.write(SearchKind.GREEDY_SEARCH, llama, config, checkpoint,
                    SearchOptions.defaults(), tmp, SearchKind.GREEDY_SEARCH.fileName(), 1 << 20);
        }
        assertTrue(java.nio.file.Files.isRegularFile(tmp.resolve(SearchKind.GREEDY_SEARCH.fileName() + "_data")),
                "weights above the threshold stay in external data");
        List<long[]> prompts = List.of(new long[] {1, 306, 4658, 278}, new long[] {1, 15043}, new long[] {0, 0, 0, 52});
        try (ExportedModel model = ExportedModel.open(decoderDir, 1)) {
            List<long[]> expected = new Generator(model).greedy(prompts, NEW_TOKENS);
            List<long[]> actual = SearchEngine.generate(greedy, SearchKind.GREEDY_SEARCH, prompts,
                    GenerationConfig.greedy(NEW_TOKENS), model.padId());
            for (int r = 0; r < prompts.size(); r++) {
                assertArrayEquals(expected.get(r), actual.get(r), "row " + r);
            }
        }
    }

    static GenerationConfig beam(int beams, int returned) {
        return new GenerationConfig.Builder().maxNewTokens(NEW_TOKENS).topK(0).numBeams(beams)
                .numReturnSequences(returned).build(0);
    }

    private record Hypothesis(long[] ids, double score) {
    }

    /**
     * Beam search the plain way, for one prompt: every step runs the exported decoder on each beam's whole sequence
     * (no cache), adds log-softmax scores, keeps the best {@code beams} of all continuations. Valid while no beam
     * meets eos (checked), where ONNX Runtime's beam search reduces to exactly this.
     */
    static List<long[]> referenceBeams(ExportedModel model, long[] prompt, int beams, int returned) {
        Map<String, HostTensor> feed = new HashMap<>();
        List<Hypothesis> live = List.of(new Hypothesis(prompt, 0));
        for (int step = 0; step < NEW_TOKENS; step++) {
            List<Hypothesis> candidates = new ArrayList<>();
            for (Hypothesis h : live) {
                double[] logProbs = logSoftmax(lastLogits(model, h.ids(), feed));
                for (int v = 0; v < logProbs.length; v++) {
                    long[] ids = Arrays.copyOf(h.ids(), h.ids().length + 1);
                    ids[h.ids().length] = v;
                    candidates.add(new Hypothesis(ids, h.score() + logProbs[v]));
                }
            }
            candidates.sort(Comparator.comparingDouble(Hypothesis::score).reversed());
            live = candidates.subList(0, beams);
            for (Hypothesis h : candidates.subList(0, 2 * beams)) {
                assertTrue(!model.eosIds().contains(h.ids()[h.ids().length - 1]),
                        "eos among the candidates: the reference does not cover that case");
            }
        }
        return live.subList(0, returned).stream().map(Hypothesis::ids).toList();
    }

    static float[] lastLogits(ExportedModel model, long[] ids, Map<String, HostTensor> feed) {
        int n = ids.length;
        long[] mask = new long[n];
        long[] positions = new long[n];
        for (int i = 0; i < n; i++) {
            mask[i] = 1;
            positions[i] = i;
        }
        feed.put("input_ids", HostTensor.ofLongs(ids, 1, n));
        feed.put("attention_mask", HostTensor.ofLongs(mask, 1, n));
        feed.put("position_ids", HostTensor.ofLongs(positions, 1, n));
        CacheDecl cache = model.spec().cache();
        long[] empty = {1, model.config().numKeyValueHeads(), 0, model.config().headDim()};
        for (int l = 0; l < model.config().numLayers(); l++) {
            feed.put(cache.pastName(l, "key"), HostTensor.ofFloats(new float[0], empty));
            feed.put(cache.pastName(l, "value"), HostTensor.ofFloats(new float[0], empty));
        }
        OrtSession session = model.session();
        Map<String, HostTensor> inputs = new HashMap<>();
        for (String name : session.getInputNames()) {
            inputs.put(name, feed.get(name));
        }
        float[] logits = OrtRunner.run(session, inputs).get(model.spec().outputs().get(0).name()).floats();
        int vocab = model.config().vocabSize();
        return Arrays.copyOfRange(logits, logits.length - vocab, logits.length);
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) {
            max = Math.max(max, x);
        }
        double sum = 0;
        for (float x : logits) {
            sum += Math.exp(x - max);
        }
        double log = Math.log(sum) + max;
        double[] out = new double[logits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = logits[i] - log;
        }
        return out;
    }
}
