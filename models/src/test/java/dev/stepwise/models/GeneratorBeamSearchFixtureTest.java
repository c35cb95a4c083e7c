package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java beam search on Stepwise's export of {@code gpt2-tiny-random} against onnxruntime's {@code BeamSearch}
 * operator wrapped around onnxruntime's own export of the same weights
 * ({@code upstream-onnx/gpt2-generation-ops/tiny_gpt2_beamsearch.onnx}, eos = pad = 98 as node attributes).
 *
 * <p>onnxruntime normalises a hypothesis by the whole sequence length (prompt included, its eos not), transformers
 * (since 4.36) by the number of new tokens (eos included); they agree whenever no hypothesis ends early. With the
 * fixture's eos 98 none does, and transformers' convention (the default) gives onnxruntime's sequences. To test eos
 * handling, the operator's {@code eos_token_id} attribute is rewritten (in memory) to a token the model does produce:
 * then {@link BeamOptions.Convention#ONNX_RUNTIME} reproduces the operator and transformers' convention differs.
 */
class GeneratorBeamSearchFixtureTest {
    static final long PAD = 98;
    static final long[][] PROMPTS = {
        {0, 0, 0, 52, 7, 300, 11, 999, 97, 5, 17, 3},
        {4, 8, 15, 16, 23, 42, 108, 7, 1, 2, 3, 4},
        {500, 600, 700, 800, 900, 100, 200, 300, 400, 10, 20, 30}};

    @TempDir
    static Path tmp;
    static Path exported;
    static ModelProto beamSearchGraph;

    @BeforeAll
    static void exportAndRead() throws Exception {
        exported = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-tiny")).outputDir();
        beamSearchGraph = ModelProto.parseFrom(
                Files.readAllBytes(Fixtures.path("upstream-onnx/gpt2-generation-ops/tiny_gpt2_beamsearch.onnx")));
    }

    @Test
    void fixtureGraphIsTheBeamSearchOperatorWithEosAndPad98() {
        NodeProto node = beamSearchGraph.getGraph().getNode(0);
        assertEquals("BeamSearch", node.getOpType());
        assertEquals("com.microsoft", node.getDomain());
        assertEquals(98, attribute(node, "eos_token_id"));
        assertEquals(98, attribute(node, "pad_token_id"));
        assertEquals(0, attribute(node, "early_stopping"));
        assertEquals(0, attribute(node, "no_repeat_ngram_size"));
    }

    @Test
    void beamSearchEqualsOnnxRuntimeBeamSearchOperator() throws Exception {
        List<long[]> prompts = Arrays.asList(PROMPTS);
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator generator = new Generator(model);
            for (int returned : new int[] {1, 4}) {
                Request r = new Request(4, returned, 20, 1.0f, 0, 1.0f, 98, false);
                long[][][] expected = upstream(r, PROMPTS);
                // transformers' conventions, as generate() uses by default; max_length 20 = 12 + 8 new tokens
                GenerationConfig config = GenerationConfig.beamSearch(8, 4, 1.0, false, returned);
                List<List<long[]>> got = generator.generate(prompts, config);
                assertSame(expected, got, r, 98);
            }
        }
    }

    @Test
    void eosHandlingMatchesTheOperatorWithItsConvention() throws Exception {
        List<long[]> prompts = Arrays.asList(PROMPTS);
        int transformersDiffer = 0;
        int withEarlyEos = 0;
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator generator = new Generator(model);
            long[] frequent = frequentTokens(generator);
            List<Request> requests = List.of(
                    new Request(4, 4, 20, 1.0f, 0, 1.0f, frequent[0], false),
                    new Request(4, 2, 24, 2.0f, 0, 1.0f, frequent[1], false),
                    new Request(3, 3, 22, 0.5f, 0, 1.0f, frequent[2], true),
                    new Request(4, 1, 20, 1.0f, 15, 1.0f, frequent[0], false),
                    new Request(2, 2, 26, 1.0f, 0, 1.3f, frequent[1], false));
            for (Request r : requests) {
                long[][][] expected = upstream(r, PROMPTS);
                GenerationConfig config = GenerationConfig.beamSearch(r.maxLength - 12, r.numBeams, r.lengthPenalty,
                        r.earlyStopping, r.returned).toBuilder()
                        .eosTokenIds(List.of(r.eos)).padTokenId(PAD)
                        .minNewTokens(Math.max(0, r.minLength - 12)).repetitionPenalty(r.repetitionPenalty)
                        .build(12);
                BeamOptions ort = new BeamOptions(r.earlyStopping ? BeamOptions.EarlyStopping.TRUE
                        : BeamOptions.EarlyStopping.FALSE, BeamOptions.Convention.ONNX_RUNTIME);
                assertSame(expected, generator.beamSearch(prompts, config, ort), r, r.eos);
                withEarlyEos += endsEarly(expected, r) ? 1 : 0;
                List<List<long[]>> hf = generator.generate(prompts, config);
                transformersDiffer += same(expected, hf, r, r.eos) ? 0 : 1;
            }
        }
        assertTrue(withEarlyEos >= 3, "most requests have hypotheses that end with eos before max_length");
        assertTrue(transformersDiffer >= 1, "transformers' length normalisation picks other sequences somewhere");
    }

    /** Tokens the model produces often (from greedy continuations), none of them 98. */
    static long[] frequentTokens(Generator generator) {
        List<long[]> greedy = generator.greedy(Arrays.asList(PROMPTS), 4);
        long[] out = new long[3];
        for (int b = 0; b < 3; b++) {
            out[b] = greedy.get(b)[12 + 2];
            assertTrue(out[b] != PAD);
        }
        return out;
    }

    record Request(int numBeams, int returned, int maxLength, float lengthPenalty, int minLength,
                   float repetitionPenalty, long eos, boolean earlyStopping) {
    }

    /** Runs the fixture graph (with eos_token_id and early_stopping rewritten); sequences [B][R][max_length]. */
    static long[][][] upstream(Request r, long[][] prompts) throws OrtException {
        NodeProto.Builder node = beamSearchGraph.getGraph().getNode(0).toBuilder();
        for (int i = 0; i < node.getAttributeCount(); i++) {
            AttributeProto a = node.getAttribute(i);
            if (a.getName().equals("eos_token_id")) {
                node.setAttribute(i, a.toBuilder().setI(r.eos));
            } else if (a.getName().equals("early_stopping")) {
                node.setAttribute(i, a.toBuilder().setI(r.earlyStopping ? 1 : 0));
            }
        }
        GraphProto graph = beamSearchGraph.getGraph().toBuilder().setNode(0, node).build();
        byte[] bytes = beamSearchGraph.toBuilder().setGraph(graph).build().toByteArray();
        OrtEnvironment env = OrtSessions.environment();
        int batch = prompts.length;
        int length = prompts[0].length;
        int[] ids = new int[batch * length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                ids[b * length + t] = (int) prompts[b][t];
            }
        }
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(1);
        Map<String, OnnxTensor> feed = new HashMap<>();
        try (OrtSession session = env.createSession(bytes, options)) {
            feed.put("input_ids", OnnxTensor.createTensor(env, IntBuffer.wrap(ids), new long[] {batch, length}));
            feed.put("max_length", scalar(env, r.maxLength));
            feed.put("min_length", scalar(env, r.minLength));
            feed.put("num_beams", scalar(env, r.numBeams));
            feed.put("num_return_sequences", scalar(env, r.returned));
            feed.put("length_penalty", OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {r.lengthPenalty}), new long[] {1}));
            feed.put("repetition_penalty", OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {r.repetitionPenalty}), new long[] {1}));
            try (OrtSession.Result result = session.run(feed)) {
                OnnxTensor t = (OnnxTensor) result.get("sequences").orElseThrow();
                assertArrayEquals(new long[] {batch, r.returned, r.maxLength}, t.getInfo().getShape());
                IntBuffer flat = t.getIntBuffer();
                long[][][] out = new long[batch][r.returned][r.maxLength];
                for (int b = 0; b < batch; b++) {
                    for (int j = 0; j < r.returned; j++) {
                        for (int i = 0; i < r.maxLength; i++) {
                            out[b][j][i] = flat.get((b * r.returned + j) * r.maxLength + i);
                        }
                    }
                }
                return out;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor scalar(OrtEnvironment env, int v) throws OrtException {
        return OnnxTensor.createTensor(env, IntBuffer.wrap(new int[] {v}), new long[] {1});
    }

    private static long attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst().orElseThrow().getI();
    }

    /**
     * A Java sequence as the operator writes it: onnxruntime leaves out the eos that ended a hypothesis and fills the
     * row up to max_length with pad.
     */
    static long[] asOperatorRow(long[] sequence, long eos, int maxLength) {
        int keep = sequence.length;
        if (keep > 12 && sequence[keep - 1] == eos) {
            keep--;
        }
        long[] row = new long[maxLength];
        Arrays.fill(row, PAD);
        System.arraycopy(sequence, 0, row, 0, keep);
        return row;
    }

    static boolean same(long[][][] expected, List<List<long[]>> got, Request r, long eos) {
        for (int b = 0; b < expected.length; b++) {
            if (got.get(b).size() != r.returned) {
                return false;
            }
            for (int j = 0; j < r.returned; j++) {
                if (!Arrays.equals(expected[b][j], asOperatorRow(got.get(b).get(j), eos, r.maxLength))) {
                    return false;
                }
            }
        }
        return true;
    }

    static void assertSame(long[][][] expected, List<List<long[]>> got, Request r, long eos) {
        assertEquals(expected.length, got.size());
        for (int b = 0; b < expected.length; b++) {
            assertEquals(r.returned, got.get(b).size(), r + " prompt " + b);
            for (int j = 0; j < r.returned; j++) {
                assertArrayEquals(expected[b][j], asOperatorRow(got.get(b).get(j), eos, r.maxLength),
                        r + " prompt " + b + " sequence " + j);
            }
        }
    }

    static boolean endsEarly(long[][][] expected, Request r) {
        for (long[][] rows : expected) {
            for (long[] row : rows) {
                if (row[r.maxLength - 1] == PAD) {
                    return true;
                }
            }
        }
        return false;
    }
}
