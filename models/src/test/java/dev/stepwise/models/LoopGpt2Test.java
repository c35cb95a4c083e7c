package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.JavaEngine;
import dev.stepwise.runtime.generate.LogitsProcessors;
import dev.stepwise.runtime.generate.TokenSampler;
import dev.stepwise.runtime.loop.LoopEngine;
import dev.stepwise.runtime.loop.LoopGenerationEngine;
import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.loop.LoopSampling;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop graph of {@code gpt2-tiny-random} against the Java {@link Generator} on the exported decoder: the same
 * greedy tokens for a left-padded batch, early exit once every row produced eos, seeded sampling that repeats and
 * follows {@link LoopSampling}'s rule, only standard-domain operators, clear errors for bad requests.
 */
class LoopGpt2Test {
    static final long PAD = 98;
    static final List<long[]> PROMPTS = List.of(
            new long[] {0, 0, 0, 52, 7, 300, 11, 999, 98, 5},
            new long[] {4, 8, 15},
            new long[] {16, 23, 42, 108, 7});

    @TempDir
    static Path tmp;
    static Path decoderDir;
    static Path loopFile;
    static LoopEngine engine;

    @BeforeAll
    static void export() {
        decoderDir = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("decoder")).outputDir();
        loopFile = LoopGraphBuilder.write(new Gpt2Exporter(), Fixtures.path("gpt2-tiny-random"), tmp.resolve("loop"), 0);
        engine = LoopEngine.open(loopFile, 1);
    }

    @org.junit.jupiter.api.AfterAll
    static void close() {
        engine.close();
    }

    static List<long[]> javaGreedy(Path dir, List<long[]> prompts, int newTokens) {
        try (ExportedModel model = ExportedModel.open(dir, 1)) {
            return new Generator(model).greedy(prompts, newTokens);
        }
    }

    static GenerationConfig sampling(int newTokens, double temperature, int topK, double topP, long seed) {
        return GenerationConfig.sampling(newTokens, temperature, topK, topP, seed);
    }

    /** Greedy with eos ids given in the request and a minimum length. */
    static GenerationConfig greedy(int newTokens, int minNewTokens, List<Long> eos) {
        return new GenerationConfig.Builder().maxNewTokens(newTokens).minNewTokens(minNewTokens).topK(0)
                .eosTokenIds(eos).build(0);
    }

    /** The Java generator's first sequence per prompt. */
    static List<long[]> javaGenerate(Path dir, List<long[]> prompts, GenerationConfig config) {
        try (ExportedModel model = ExportedModel.open(dir, 1)) {
            return new Generator(model).generate(prompts, config).stream().map(l -> l.get(0)).toList();
        }
    }

    static void assertRowsEqual(List<long[]> expected, List<long[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int r = 0; r < expected.size(); r++) {
            assertArrayEquals(expected.get(r), actual.get(r), "row " + r + ": expected " + Arrays.toString(expected.get(r))
                    + ", got " + Arrays.toString(actual.get(r)));
        }
    }

    // ---- greedy ----

    @Test
    void greedyEqualsJavaGeneratorOnLeftPaddedBatch() {
        List<long[]> expected = javaGreedy(decoderDir, PROMPTS, 12);
        assertRowsEqual(expected, engine.generate(PROMPTS, GenerationConfig.greedy(12), PAD, List.of(98L)));
    }

    @Test
    void greedyIsTheSameAtOtherOpsets() {
        List<long[]> expected = engine.generate(PROMPTS, GenerationConfig.greedy(8), PAD, List.of(98L));
        for (int opset : new int[] {13, 17, 18}) {
            Path file = LoopGraphBuilder.write(new Gpt2Exporter(), Fixtures.path("gpt2-tiny-random"),
                    tmp.resolve("loop-opset-" + opset), opset);
            assertEquals(opset, OnnxModelReader.load(file).model().getOpsetImport(0).getVersion());
            try (LoopEngine other = LoopEngine.open(file, 1)) {
                assertRowsEqual(expected, other.generate(PROMPTS, GenerationConfig.greedy(8), PAD, List.of(98L)));
                assertRowsEqual(engine.generate(PROMPTS, sampling(8, 0.9, 30, 0.9, 77), PAD, List.of(98L)),
                        other.generate(PROMPTS, sampling(8, 0.9, 30, 0.9, 77), PAD, List.of(98L)));
            }
        }
    }

    @Test
    void greedyRowOfBatchEqualsRowAlone() {
        List<long[]> batch = engine.generate(PROMPTS, GenerationConfig.greedy(8), PAD, List.of(98L));
        for (int r = 0; r < PROMPTS.size(); r++) {
            assertArrayEquals(engine.generate(List.of(PROMPTS.get(r)), GenerationConfig.greedy(8), PAD, List.of(98L))
                    .get(0), batch.get(r), "row " + r);
        }
    }

    /**
     * Eos ids (given in the request) that the rows produce at different steps: the Java generator stops each row there,
     * and the loop must stop every row at the same token and leave the loop early.
     */
    @Test
    void earlyExitWhenEveryRowProducedEos() {
        int maxNew = 16;
        List<long[]> free = engine.generate(PROMPTS, GenerationConfig.greedy(maxNew), PAD, List.of());
        Set<Long> eosSet = new LinkedHashSet<>();
        for (int r = 0; r < PROMPTS.size(); r++) {
            eosSet.add(free.get(r)[PROMPTS.get(r).length + 2 + r]); // row r's token at step 2 + r
        }
        eosSet.remove(PAD);
        List<Long> eos = List.copyOf(eosSet);
        List<long[]> expected = javaGenerate(decoderDir, PROMPTS, greedy(maxNew, 0, eos));

        List<long[]> actual = engine.generate(PROMPTS, GenerationConfig.greedy(maxNew), PAD, eos);
        assertRowsEqual(expected, actual);

        long[][] raw = engine.run(PROMPTS, GenerationConfig.greedy(maxNew), PAD, eos);
        int longest = 0;
        for (int r = 0; r < PROMPTS.size(); r++) {
            int generated = actual.get(r).length - PROMPTS.get(r).length;
            assertTrue(eosSet.contains(actual.get(r)[actual.get(r).length - 1]), "row " + r + " ends with eos");
            for (int i = generated; i < raw[r].length; i++) {
                assertEquals(PAD, raw[r][i], "row " + r + " pads after its eos");
            }
            longest = Math.max(longest, generated);
        }
        assertEquals(longest, raw[0].length, "the loop stops at the step the last row produced eos");
        assertTrue(longest < maxNew, "and that is before max_new_tokens");
    }

    @Test
    void minNewTokensKeepsEosAwayAsInTheJavaGenerator() {
        // eos = the token row 1 makes at step 1; with min_new_tokens 6 that token cannot appear before step 6
        List<long[]> free = engine.generate(PROMPTS, GenerationConfig.greedy(10), PAD, List.of());
        long eos = free.get(1)[PROMPTS.get(1).length + 1];
        GenerationConfig config = greedy(10, 6, List.of(eos));
        List<long[]> actual = engine.generate(PROMPTS, config, PAD, List.of(98L));
        assertRowsEqual(javaGenerate(decoderDir, PROMPTS, config), actual);
        for (int r = 0; r < PROMPTS.size(); r++) {
            long[] row = actual.get(r);
            int p = PROMPTS.get(r).length;
            for (int i = p; i < Math.min(row.length, p + 6); i++) {
                assertNotEquals(eos, row[i], "row " + r + ": eos at step " + (i - p) + " < min_new_tokens");
            }
        }
    }

    // ---- sampling ----

    @Test
    void seededSamplingRepeatsAndDependsOnTheSeed() {
        GenerationConfig seed7 = sampling(12, 1.0, 0, 1.0, 7);
        List<long[]> first = engine.generate(PROMPTS, seed7, PAD, List.of());
        List<long[]> second = engine.generate(PROMPTS, seed7, PAD, List.of());
        assertRowsEqual(first, second);
        try (LoopEngine other = LoopEngine.open(loopFile, 2)) {
            assertRowsEqual(first, other.generate(PROMPTS, seed7, PAD, List.of()));
        }
        List<long[]> seed8 = engine.generate(PROMPTS, sampling(12, 1.0, 0, 1.0, 8), PAD, List.of());
        boolean differs = false;
        for (int r = 0; r < PROMPTS.size(); r++) {
            differs |= !Arrays.equals(first.get(r), seed8.get(r));
        }
        assertTrue(differs, "seeds 7 and 8 give different samples");
        assertFalse(Arrays.equals(first.get(0), javaGreedy(decoderDir, PROMPTS, 12).get(0)), "sampling is not greedy");
    }

    @Test
    void topKOneSamplingIsGreedy() {
        List<long[]> greedy = engine.generate(PROMPTS, GenerationConfig.greedy(10), PAD, List.of(98L));
        assertRowsEqual(greedy, engine.generate(PROMPTS, sampling(10, 0.7, 1, 1.0, 123), PAD, List.of(98L)));
        assertRowsEqual(greedy, engine.generate(PROMPTS, sampling(10, 1.3, 0, 1e-6, 5), PAD, List.of(98L)));
    }

    static final List<GenerationConfig> SAMPLING = List.of(sampling(10, 1.0, 0, 1.0, 42),
            sampling(10, 0.8, 20, 0.9, -3), sampling(10, 1.5, 5, 1.0, Long.MAX_VALUE), sampling(10, 1.0, 0, 0.5, 2024),
            sampling(12, 0.7, 1000, 0.95, 9));

    @Test
    void samplingEqualsTheJavaGenerator() {
        for (GenerationConfig c : SAMPLING) {
            assertRowsEqual(javaGenerate(decoderDir, PROMPTS, c), engine.generate(PROMPTS, c, PAD, List.of(98L)));
        }
    }

    @Test
    void engineInterfaceMatchesTheJavaEngineWithSeveralSequencesPerPrompt() {
        Path folder = tmp.resolve("engines");
        Path exported = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), folder,
                ExportOptions.defaults().withValidate(false)).outputDir();
        LoopGenerationEngine loopEngine = new LoopGenerationEngine(1);
        assertMessage("no model_loop.onnx", () -> loopEngine.generate(exported, PROMPTS, GenerationConfig.greedy(3)));
        LoopGraphBuilder.write(new Gpt2Exporter(), Fixtures.path("gpt2-tiny-random"), exported, 0);
        for (GenerationConfig c : List.of(GenerationConfig.greedy(9), sampling(9, 0.9, 0, 0.9, 5).toBuilder()
                .numReturnSequences(3).build(0))) {
            List<List<long[]>> expected = new JavaEngine(1).generate(exported, PROMPTS, c);
            List<List<long[]>> actual = loopEngine.generate(exported, PROMPTS, c);
            assertEquals(expected.size(), actual.size());
            for (int b = 0; b < expected.size(); b++) {
                assertRowsEqual(expected.get(b), actual.get(b));
            }
        }
    }

    /** The alternative draw: the same rule with {@link LoopSampling#feistel}, against a Java decoder built from it. */
    @Test
    void feistelDrawGraphFollowsItsJavaDefinition() {
        Path file = LoopGraphBuilder.write(new Gpt2Exporter(), Fixtures.path("gpt2-tiny-random"),
                tmp.resolve("loop-feistel"), 0, null, LoopSampling.Draw.FEISTEL);
        try (LoopEngine feistel = LoopEngine.open(file, 1)) {
            assertRowsEqual(engine.generate(PROMPTS, GenerationConfig.greedy(8), PAD, List.of(98L)),
                    feistel.generate(PROMPTS, GenerationConfig.greedy(8), PAD, List.of(98L)));
            for (GenerationConfig c : SAMPLING) {
                assertRowsEqual(Reference.generate(decoderDir, PROMPTS, c, PAD, List.of(98L), LoopSampling.Draw.FEISTEL),
                        feistel.generate(PROMPTS, c, PAD, List.of(98L)));
            }
        }
    }

    // ---- the graph ----

    @Test
    void onlyStandardOperators() {
        ModelProto model = OnnxModelReader.load(loopFile).model();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            assertTrue(o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"), "opset import " + o.getDomain());
        }
        Map<String, Integer> counts = new TreeMap<>();
        count(model.getGraph(), counts);
        for (String op : counts.keySet()) {
            assertFalse(op.contains(":"), "non-standard op " + op);
            assertFalse(Set.of("Multinomial", "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike")
                    .contains(op), "non-reproducible op " + op);
        }
        assertEquals(1, counts.get("Loop"));
        assertEquals(4, counts.get("If"), "min_new_tokens, greedy or sample, top-k, top-p");
        assertEquals(model.getGraph().getInitializerCount(), model.getGraph().getInitializerList().stream()
                .map(t -> t.getName()).distinct().count());
        System.out.println("loop graph ops (" + counts.values().stream().mapToInt(Integer::intValue).sum() + "): " + counts);
        System.out.println("nodes per graph: " + dev.stepwise.runtime.loop.LoopGraphStats.nodesPerGraph(model));
        assertEquals(counts, dev.stepwise.runtime.loop.LoopGraphStats.opCounts(model));
    }

    @Test
    void weightsLiveInTheMainGraphOnce() {
        ModelProto model = OnnxModelReader.load(loopFile).model();
        Set<String> initializers = new java.util.HashSet<>();
        model.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
        assertTrue(initializers.contains("transformer.wte.weight"));
        assertTrue(initializers.contains("transformer.h.4.mlp.c_proj.weight"));
        NodeProto loop = model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Loop")).findFirst()
                .orElseThrow();
        GraphProto body = loop.getAttribute(0).getG();
        assertEquals(0, body.getInitializerCount(), "the body holds no initializers");
        for (var input : body.getInputList()) {
            assertFalse(initializers.contains(input.getName()), "outer values are not body inputs: " + input.getName());
        }
    }

    @Test
    void writtenBesideAnExportItSharesTheWeightsFile() {
        Path dir = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("shared"),
                ExportOptions.defaults().withExternalDataThreshold(0).withValidate(false)).outputDir();
        ModelProto decoder = OnnxModelReader.load(dir.resolve("model.onnx")).model();
        Path file = LoopGraphBuilder.write(new Gpt2Exporter(), Fixtures.path("gpt2-tiny-random"), dir, 0, decoder);
        assertFalse(Files.exists(dir.resolve(LoopGraphBuilder.DATA_FILE)), "no second weights file");
        ModelProto loop = OnnxModelReader.load(file).model();
        long shared = loop.getGraph().getInitializerList().stream()
                .filter(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL)
                .peek(t -> assertEquals("model.onnx_data", t.getExternalData(0).getValue()))
                .count();
        assertEquals(decoder.getGraph().getInitializerList().stream()
                .filter(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL).count(), shared);
        try (LoopEngine shareEngine = LoopEngine.open(file, 1)) {
            assertRowsEqual(engine.generate(PROMPTS, GenerationConfig.greedy(6), PAD, List.of(98L)),
                    shareEngine.generate(PROMPTS, GenerationConfig.greedy(6), PAD, List.of(98L)));
        }
    }

    static void count(GraphProto g, Map<String, Integer> counts) {
        for (NodeProto n : g.getNodeList()) {
            counts.merge((n.getDomain().isEmpty() ? "" : n.getDomain() + ":") + n.getOpType(), 1, Integer::sum);
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    count(a.getG(), counts);
                }
            }
        }
    }

    // ---- bad input ----

    @Test
    void graphWithNoStepsGivesAnEmptyResult() throws OrtException {
        for (long maxNew : new long[] {0, -3}) {
            long[][] raw = runGraph(maxNew, new long[] {98});
            assertEquals(PROMPTS.size(), raw.length);
            assertEquals(0, raw[0].length, "max_new_tokens " + maxNew);
        }
    }

    @Test
    void graphWithoutEosRunsEveryStep() throws OrtException {
        long[][] raw = runGraph(9, new long[0]);
        assertEquals(9, raw[0].length);
    }

    private static long[][] runGraph(long maxNew, long[] eos) throws OrtException {
        OrtEnvironment env = OrtSessions.environment();
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            long[] ids = {5, 6, 7, 98, 8, 9, 98, 98, 10};
            long[] mask = {1, 1, 1, 0, 1, 1, 0, 0, 1};
            feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {3, 3}));
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {3, 3}));
            feed.put("max_new_tokens", OnnxTensor.createTensor(env, maxNew));
            feed.put("min_new_tokens", OnnxTensor.createTensor(env, 0L));
            feed.put("do_sample", OnnxTensor.createTensor(env, false));
            feed.put("temperature", OnnxTensor.createTensor(env, 1f));
            feed.put("top_k", OnnxTensor.createTensor(env, 0L));
            feed.put("top_p", OnnxTensor.createTensor(env, 1.0));
            feed.put("seed", OnnxTensor.createTensor(env, 0L));
            feed.put("eos_token_id", OnnxTensor.createTensor(env, LongBuffer.wrap(eos), new long[] {eos.length}));
            feed.put("pad_token_id", OnnxTensor.createTensor(env, 98L));
            try (OrtSession.Result r = engine.session().run(feed)) {
                OnnxTensor out = (OnnxTensor) r.get("generated_ids").orElseThrow();
                long[] shape = out.getInfo().getShape();
                long[][] rows = new long[(int) shape[0]][(int) shape[1]];
                LongBuffer b = out.getLongBuffer();
                for (long[] row : rows) {
                    b.get(row);
                }
                return rows;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Test
    void badRequestsAreRefusedWithTheReason() {
        List<Long> eos = List.of(98L);
        assertMessage("max_new_tokens", () -> engine.generate(PROMPTS, GenerationConfig.greedy(0), PAD, eos));
        assertMessage("no prompt", () -> engine.generate(List.of(), GenerationConfig.greedy(3), PAD, eos));
        assertMessage("row 1 is empty", () -> engine.generate(List.of(new long[] {1}, new long[0]),
                GenerationConfig.greedy(3), PAD, eos));
        assertMessage("outside the vocabulary", () -> engine.generate(List.of(new long[] {1000}),
                GenerationConfig.greedy(3), PAD, eos));
        assertMessage("512 positions", () -> engine.generate(List.of(new long[] {1, 2}),
                GenerationConfig.greedy(511), PAD, eos));
        assertMessage("temperature", () -> engine.generate(PROMPTS, sampling(3, 0, 0, 1, 1), PAD, eos));
        assertMessage("top_p", () -> engine.generate(PROMPTS, sampling(3, 1, 0, 0, 1), PAD, eos));
        assertMessage("top_k", () -> engine.generate(PROMPTS, sampling(3, 1, -1, 1, 1), PAD, eos));
        assertMessage("no_repeat_ngram_size", () -> engine.generate(PROMPTS, GenerationConfig.greedy(3).toBuilder()
                .noRepeatNgramSize(2).build(0), PAD, eos));
        assertMessage("beam search", () -> engine.generate(PROMPTS, new GenerationConfig.Builder().maxNewTokens(3)
                .topK(0).numBeams(4).build(0), PAD, eos));
        assertMessage("repetition penalty", () -> engine.generate(PROMPTS, new GenerationConfig.Builder()
                .maxNewTokens(3).topK(0).repetitionPenalty(1.2).build(0), PAD, eos));
        assertMessage("not a Stepwise loop graph",
                () -> LoopEngine.open(decoderDir.resolve("model.onnx"), 1).close());
        assertMessage("not found", () -> LoopEngine.open(tmp.resolve("missing.onnx"), 1).close());
    }

    private static void assertMessage(String part, Runnable r) {
        StepwiseException e = assertThrows(StepwiseException.class, r::run);
        assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should mention '" + part + "'");
    }

    /**
     * A decoder built from the Java generator's rule ({@link TokenSampler}) with a chosen draw: no KV cache (the
     * decoder re-reads the whole sequence each step with an empty past), finished rows padded.
     */
    static final class Reference {
        private Reference() {
        }

        static List<long[]> generate(Path decoderDir, List<long[]> prompts, GenerationConfig c, long pad, List<Long> eos,
                                     LoopSampling.Draw draw) {
            try (ExportedModel model = ExportedModel.open(decoderDir, 1)) {
                int batch = prompts.size();
                int vocab = model.config().vocabSize();
                int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
                List<List<Long>> ids = new ArrayList<>();
                List<List<Long>> mask = new ArrayList<>();
                for (long[] p : prompts) {
                    List<Long> row = new ArrayList<>();
                    List<Long> m = new ArrayList<>();
                    for (int t = 0; t < longest; t++) {
                        boolean real = t >= longest - p.length;
                        row.add(real ? p[t - (longest - p.length)] : pad);
                        m.add(real ? 1L : 0L);
                    }
                    ids.add(row);
                    mask.add(m);
                }
                boolean[] finished = new boolean[batch];
                List<List<Long>> generated = new ArrayList<>();
                prompts.forEach(p -> generated.add(new ArrayList<>()));
                for (int step = 0; step < c.maxNewTokens(); step++) {
                    float[] logits = lastLogits(model, ids, mask);
                    for (int b = 0; b < batch; b++) {
                        long token;
                        if (finished[b]) {
                            token = pad;
                        } else {
                            float[] scores = Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
                            TokenSampler.process(scores, new long[0], 0, step, c, eos);
                            if (c.doSample()) {
                                TokenSampler.warp(scores, c);
                                token = TokenSampler.inverseCdf(scores, LoopSampling.uniform(draw, c.seed(), b, step));
                            } else {
                                token = dev.stepwise.runtime.tensor.Argmax.of(scores);
                            }
                            generated.get(b).add(token);
                            finished[b] = eos.contains(token);
                        }
                        ids.get(b).add(token);
                        mask.get(b).add(1L);
                    }
                    boolean all = true;
                    for (boolean f : finished) {
                        all &= f;
                    }
                    if (all) {
                        break;
                    }
                }
                List<long[]> out = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    long[] p = prompts.get(b);
                    long[] row = Arrays.copyOf(p, p.length + generated.get(b).size());
                    for (int i = 0; i < generated.get(b).size(); i++) {
                        row[p.length + i] = generated.get(b).get(i);
                    }
                    out.add(row);
                }
                return out;
            }
        }

        /** Logits of the last position, {@code [batch * vocab]}. */
        private static float[] lastLogits(ExportedModel model, List<List<Long>> ids, List<List<Long>> mask) {
            int batch = ids.size();
            int length = ids.get(0).size();
            long[] flatIds = new long[batch * length];
            long[] flatMask = new long[batch * length];
            long[] positions = new long[batch * length];
            for (int b = 0; b < batch; b++) {
                long seen = 0;
                for (int t = 0; t < length; t++) {
                    flatIds[b * length + t] = ids.get(b).get(t);
                    long m = mask.get(b).get(t);
                    flatMask[b * length + t] = m;
                    seen += m;
                    positions[b * length + t] = m == 0 ? 1 : seen - 1;
                }
            }
            Map<String, HostTensor> in = new HashMap<>();
            in.put("input_ids", HostTensor.ofLongs(flatIds, batch, length));
            in.put("attention_mask", HostTensor.ofLongs(flatMask, batch, length));
            in.put("position_ids", HostTensor.ofLongs(positions, batch, length));
            CacheDecl cache = model.spec().cache();
            long[] empty = {batch, model.config().numKeyValueHeads(), 0, model.config().headDim()};
            for (int l = 0; l < model.config().numLayers(); l++) {
                in.put(cache.pastName(l, "key"), HostTensor.ofFloats(new float[0], empty));
                in.put(cache.pastName(l, "value"), HostTensor.ofFloats(new float[0], empty));
            }
            HostTensor logits = OrtRunner.run(model.session(), in).get(model.spec().outputs().get(0).name());
            int vocab = model.config().vocabSize();
            float[] last = new float[batch * vocab];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(logits.floats(), (b * length + length - 1) * vocab, last, b * vocab, vocab);
            }
            return last;
        }
    }
}
