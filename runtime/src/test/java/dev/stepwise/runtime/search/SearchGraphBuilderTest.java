package dev.stepwise.runtime.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.export.AxisSizes;
import dev.stepwise.runtime.export.DecoderTracer;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.io.OutputStream;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The decoder adapter on a small grouped-query decoder: the contract's shape, its numbers, and the graphs running. */
class SearchGraphBuilderTest {
    @TempDir
    Path tmp;

    /** Keeps weights in the model (raw_data), for small test graphs. */
    static final class InlineSink implements WeightSink {
        @Override
        public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(data.size()));
            data.read(0, bytes);
            TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(OnnxTypes.elemType(type))
                    .setRawData(ByteString.copyFrom(bytes.flip()));
            Arrays.stream(dims).forEach(t::addDims);
            return t.build();
        }

        @Override
        public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
            ByteBuffer in = ByteBuffer.allocate(Math.toIntExact(data.size())).order(ByteOrder.LITTLE_ENDIAN);
            data.read(0, in);
            ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(rows * cols * 4)).order(ByteOrder.LITTLE_ENDIAN);
            for (long c = 0; c < cols; c++) {
                for (long r = 0; r < rows; r++) {
                    out.putFloat(in.getFloat(Math.toIntExact((r * cols + c) * 4)));
                }
            }
            out.flip();
            return write(name, DType.FLOAT, new long[] {cols, rows}, out);
        }
    }

    static List<Object> dims(ValueInfoProto v) {
        List<Object> out = new ArrayList<>();
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
            out.add(d.hasDimValue() ? (Object) d.getDimValue() : d.getDimParam());
        }
        return out;
    }

    static int elemType(ValueInfoProto v) {
        return v.getType().getTensorType().getElemType();
    }

    static AttributeProto attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no attribute " + name));
    }

    @Test
    void beamSearchModelFollowsTheOperatorsContract() {
        ToyDecoder toy = new ToyDecoder(2, true);
        ModelConfig config = toy.config();
        ModelProto model = SearchGraphBuilder.build(SearchKind.BEAM_SEARCH, toy, config, toy.weights(1),
                new InlineSink(), SearchOptions.defaults());

        assertTrue(model.getOpsetImportList().contains(OperatorSetIdProto.newBuilder().setDomain("com.microsoft")
                .setVersion(1).build()));
        GraphProto main = model.getGraph();
        assertEquals(1, main.getNodeCount());
        NodeProto node = main.getNode(0);
        assertEquals("com.microsoft", node.getDomain());
        assertEquals("BeamSearch", node.getOpType());
        assertEquals(List.of("input_ids", "max_length", "min_length", "num_beams", "num_return_sequences",
                "length_penalty", "repetition_penalty", "", "", "attention_mask"), node.getInputList());
        assertEquals(List.of("sequences"), node.getOutputList());
        assertEquals(List.of("batch_size", "num_return_sequences", "max_length"), dims(main.getOutput(0)));
        assertEquals(ToyDecoder.EOS, attribute(node, "eos_token_id").getI());
        assertEquals(ToyDecoder.PAD, attribute(node, "pad_token_id").getI());
        assertEquals(0, attribute(node, "model_type").getI());
        assertEquals(ToyDecoder.VOCAB, attribute(node, "vocab_size").getI());
        assertEquals(0, attribute(node, "early_stopping").getI());

        GraphProto decoder = attribute(node, "decoder").getG();
        int int32 = OnnxTypes.elemType(DType.INT32);
        assertEquals(List.of("input_ids", "position_ids", "attention_mask", "past_0", "past_1"),
                decoder.getInputList().stream().map(ValueInfoProto::getName).toList());
        for (int i = 0; i < 3; i++) {
            assertEquals(int32, elemType(decoder.getInput(i)), decoder.getInput(i).getName() + " is int32");
        }
        // the cache's heads are the key/value heads: 2 of the 4 attention heads, no repetition
        assertEquals(List.of(2L, "batch_size", 2L, "past_sequence_length", (long) ToyDecoder.HEAD_DIM),
                dims(decoder.getInput(3)));
        assertEquals(List.of("logits", "present_0", "present_1"),
                decoder.getOutputList().stream().map(ValueInfoProto::getName).toList());
        assertEquals(List.of("batch_size", "sequence_length", (long) ToyDecoder.VOCAB), dims(decoder.getOutput(0)));
        assertEquals(List.of(2L, "batch_size", 2L, "past_sequence_length + sequence_length", (long) ToyDecoder.HEAD_DIM),
                dims(decoder.getOutput(1)));

        // weights live in the main graph, typed for the subgraph by a value_info each
        Set<String> weights = main.getInitializerList().stream().map(TensorProto::getName).collect(Collectors.toSet());
        assertTrue(weights.containsAll(List.of("wte", "wpe", "0.q", "0.k", "1.v")), weights.toString());
        Set<String> typed = decoder.getValueInfoList().stream().map(ValueInfoProto::getName).collect(Collectors.toSet());
        assertTrue(typed.containsAll(weights));
        assertTrue(decoder.getInitializerList().stream().noneMatch(t -> weights.contains(t.getName())));

        // the adapter: each stacked past is read by two Gathers (key, value); each present is a Concat of two
        // Unsqueezes (a transpose between, for this sequence-major cache)
        Map<String, NodeProto> producer = new HashMap<>();
        decoder.getNodeList().forEach(n -> n.getOutputList().forEach(o -> producer.put(o, n)));
        for (int l = 0; l < 2; l++) {
            String past = "past_" + l;
            List<NodeProto> readers = decoder.getNodeList().stream().filter(n -> n.getInputList().contains(past)).toList();
            assertEquals(List.of("Gather", "Gather"), readers.stream().map(NodeProto::getOpType).toList());
            NodeProto stack = producer.get("present_" + l);
            assertEquals("Concat", stack.getOpType());
            assertEquals(0, attribute(stack, "axis").getI());
            for (String in : stack.getInputList()) {
                assertEquals("Unsqueeze", producer.get(in).getOpType());
            }
        }
    }

    @Test
    void greedyAndSamplingModelsHaveTheirOwnInputs() {
        ToyDecoder toy = new ToyDecoder(4, false);
        ModelProto greedy = SearchGraphBuilder.build(SearchKind.GREEDY_SEARCH, toy, toy.config(), toy.weights(1),
                new InlineSink(), SearchOptions.defaults().withNoRepeatNgramSize(2));
        NodeProto g = greedy.getGraph().getNode(0);
        assertEquals("GreedySearch", g.getOpType());
        assertEquals(List.of("input_ids", "max_length", "min_length", "repetition_penalty", "", "", "attention_mask"),
                g.getInputList());
        assertEquals(2, attribute(g, "no_repeat_ngram_size").getI());
        assertEquals(List.of("batch_size", "max_length"), dims(greedy.getGraph().getOutput(0)));

        ModelProto sampling = SearchGraphBuilder.build(SearchKind.SAMPLING, toy, toy.config(), toy.weights(1),
                new InlineSink(), SearchOptions.defaults().withSampling(0.7f, 0.9f).withEosTokenId(5));
        NodeProto s = sampling.getGraph().getNode(0);
        assertEquals("Sampling", s.getOpType());
        assertEquals(List.of("input_ids", "max_length", "min_length", "repetition_penalty", "", "", "attention_mask",
                "", "seed"), s.getInputList());
        assertEquals(0.7f, attribute(s, "temperature").getF());
        assertEquals(0.9f, attribute(s, "top_p").getF());
        assertEquals(5, attribute(s, "eos_token_id").getI());
        Map<String, String> meta = new HashMap<>();
        sampling.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
        assertEquals("sampling", meta.get(SearchGraphBuilder.META_KIND));
        assertEquals("0.7", meta.get(SearchGraphBuilder.META_TEMPERATURE));
    }

    @Test
    void badIdsAreRefusedWhenBuilding() {
        ToyDecoder toy = new ToyDecoder(4, false);
        StepwiseException eos = assertThrows(StepwiseException.class, () -> SearchGraphBuilder.build(
                SearchKind.GREEDY_SEARCH, toy, toy.config(), toy.weights(1), new InlineSink(),
                SearchOptions.defaults().withEosTokenId(ToyDecoder.VOCAB)));
        assertTrue(eos.getMessage().contains("eos token id 40 is outside the vocabulary"), eos.getMessage());
        StepwiseException pad = assertThrows(StepwiseException.class, () -> SearchGraphBuilder.build(
                SearchKind.GREEDY_SEARCH, toy, toy.config(), toy.weights(1), new InlineSink(),
                SearchOptions.defaults().withPadTokenId(-7 + ToyDecoder.VOCAB * 2)));
        assertTrue(pad.getMessage().contains("pad token id"), pad.getMessage());
    }

    // ---- numbers: the adapted subgraph computes what the architecture's own decoder computes ----

    @Test
    void subgraphMatchesTheDecoderGroupedQuerySequenceMajorCache() throws Exception {
        compareWithDecoder(new ToyDecoder(2, true), true);
    }

    @Test
    void subgraphMatchesTheDecoderWithTheOperatorsPositions() throws Exception {
        compareWithDecoder(new ToyDecoder(4, false), false);
    }

    private void compareWithDecoder(ToyDecoder toy, boolean positionsFromMask) throws Exception {
        ModelConfig config = toy.config();
        MapWeightSource weights = toy.weights(3);
        Path plainFile = save(DecoderTracer.trace(toy, config, weights, Task.TEXT_GENERATION_WITH_PAST, 14,
                AxisSizes.dynamic(), new InlineSink(), false), "plain.onnx");
        GraphProto subgraph = SearchGraphBuilder.decoderGraph(toy, config, weights, new InlineSink(), 14,
                positionsFromMask);
        Path subFile = save(ModelProto.newBuilder().setIrVersion(7).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(14)).setGraph(subgraph).build(),
                "subgraph.onnx");
        boolean seqMajor = toy.spec().cache().axes().get(1).equals("past_sequence_length");
        int kv = config.numKeyValueHeads();
        int d = ToyDecoder.HEAD_DIM;

        try (OrtSession plain = OrtSessions.open(plainFile, 1); OrtSession sub = OrtSessions.open(subFile, 1)) {
            // prefill: two rows, the first left padded by two
            long[] ids = {0, 0, 7, 8, 9, 10, 11, 12, 13, 14};
            long[] mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
            long[] positions = {1, 1, 0, 1, 2, 0, 1, 2, 3, 4};
            Map<String, HostTensor> p = new HashMap<>();
            Map<String, HostTensor> s = new HashMap<>();
            p.put("input_ids", HostTensor.ofLongs(ids, 2, 5));
            p.put("attention_mask", HostTensor.ofLongs(mask, 2, 5));
            p.put("position_ids", HostTensor.ofLongs(positions, 2, 5));
            s.putAll(p);
            if (positionsFromMask) {
                s.put("position_ids", HostTensor.ofLongs(new long[10], 2, 5)); // ignored: positions come from the mask
            }
            long[] emptyPlain = seqMajor ? new long[] {2, 0, kv, d} : new long[] {2, kv, 0, d};
            for (int l = 0; l < ToyDecoder.LAYERS; l++) {
                p.put("past." + l + ".key", HostTensor.ofFloats(new float[0], emptyPlain));
                p.put("past." + l + ".value", HostTensor.ofFloats(new float[0], emptyPlain));
                s.put("past_" + l, HostTensor.ofFloats(new float[0], 2, 2, kv, 0, d));
            }
            Map<String, HostTensor> pOut = OrtRunner.run(plain, p);
            Map<String, HostTensor> sOut = OrtRunner.run(sub, s);
            assertClose("prefill logits", pOut.get("logits").floats(), sOut.get("logits").floats());
            comparePresents(pOut, sOut, seqMajor, 5);

            // one decode step on the prefill's caches
            p.put("input_ids", HostTensor.ofLongs(new long[] {21, 22}, 2, 1));
            long[] mask2 = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            p.put("attention_mask", HostTensor.ofLongs(mask2, 2, 6));
            p.put("position_ids", HostTensor.ofLongs(new long[] {3, 5}, 2, 1));
            s.put("input_ids", p.get("input_ids"));
            s.put("attention_mask", p.get("attention_mask"));
            s.put("position_ids", positionsFromMask ? HostTensor.ofLongs(new long[2], 2, 1) : p.get("position_ids"));
            for (int l = 0; l < ToyDecoder.LAYERS; l++) {
                p.put("past." + l + ".key", pOut.get("present." + l + ".key"));
                p.put("past." + l + ".value", pOut.get("present." + l + ".value"));
                s.put("past_" + l, sOut.get("present_" + l));
            }
            Map<String, HostTensor> pOut2 = OrtRunner.run(plain, p);
            Map<String, HostTensor> sOut2 = OrtRunner.run(sub, s);
            assertClose("decode logits", pOut2.get("logits").floats(), sOut2.get("logits").floats());
            comparePresents(pOut2, sOut2, seqMajor, 6);
        }
    }

    private static void comparePresents(Map<String, HostTensor> plain, Map<String, HostTensor> sub, boolean seqMajor,
                                        int total) {
        for (int l = 0; l < ToyDecoder.LAYERS; l++) {
            HostTensor stacked = sub.get("present_" + l);
            long[] shape = stacked.shape();
            assertEquals(total, shape[3], "present_" + l + " length");
            int half = stacked.floats().length / 2;
            float[] key = Arrays.copyOfRange(stacked.floats(), 0, half);
            float[] value = Arrays.copyOfRange(stacked.floats(), half, 2 * half);
            assertClose("present " + l + " key", contractOrder(plain.get("present." + l + ".key"), seqMajor), key);
            assertClose("present " + l + " value", contractOrder(plain.get("present." + l + ".value"), seqMajor), value);
        }
    }

    /** A declared-layout cache tensor as {@code [B, KV, T, D]}. */
    private static float[] contractOrder(HostTensor t, boolean seqMajor) {
        if (!seqMajor) {
            return t.floats();
        }
        long[] s = t.shape(); // [B, T, KV, D]
        int b = (int) s[0];
        int n = (int) s[1];
        int h = (int) s[2];
        int d = (int) s[3];
        float[] out = new float[t.floats().length];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < h; k++) {
                    for (int x = 0; x < d; x++) {
                        out[((i * h + k) * n + j) * d + x] = t.floats()[((i * n + j) * h + k) * d + x];
                    }
                }
            }
        }
        return out;
    }

    private static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + " size");
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= 1e-5, what + " [" + i + "]: " + expected[i] + " vs " + actual[i]);
        }
    }

    private Path save(ModelProto model, String name) throws IOException {
        Path file = tmp.resolve(name);
        try (OutputStream out = Files.newOutputStream(file)) {
            model.writeTo(out);
        }
        return file;
    }

    // ---- the operators in ONNX Runtime ----

    @Test
    void searchGraphsRunAndOneBeamIsGreedy() throws Exception {
        ToyDecoder toy = new ToyDecoder(2, true);
        ModelConfig config = toy.config();
        MapWeightSource weights = toy.weights(5);
        Map<SearchKind, Path> files = new HashMap<>();
        for (SearchKind kind : SearchKind.values()) {
            files.put(kind, SearchGraphBuilder.write(kind, toy, config, weights, SearchOptions.defaults(), tmp,
                    kind.fileName(), Long.MAX_VALUE));
            assertFalse(Files.exists(tmp.resolve(kind.fileName() + "_data")), "small weights are inlined");
        }
        List<long[]> prompts = List.of(new long[] {7, 8, 9}, new long[] {10, 11, 12, 13, 14}, new long[] {20});
        Path plainFile = save(DecoderTracer.trace(toy, config, weights, Task.TEXT_GENERATION_WITH_PAST, 14,
                AxisSizes.dynamic(), new InlineSink(), false), "plain.onnx");
        List<long[]> greedy = SearchEngine.generate(files.get(SearchKind.GREEDY_SEARCH), SearchKind.GREEDY_SEARCH,
                prompts, GenerationConfig.greedy(6), ToyDecoder.PAD);
        List<long[]> oneBeam = SearchEngine.generate(files.get(SearchKind.BEAM_SEARCH), SearchKind.BEAM_SEARCH,
                prompts, GenerationConfig.greedy(6), ToyDecoder.PAD);
        try (OrtSession plain = OrtSessions.open(plainFile, 1)) {
            for (int r = 0; r < prompts.size(); r++) {
                long[] expected = referenceGreedy(plain, toy, prompts.get(r), 6);
                assertArrayEquals(expected, greedy.get(r), "greedy row " + r);
                assertArrayEquals(expected, oneBeam.get(r), "one beam row " + r);
            }
        }
        GenerationConfig sample = new GenerationConfig.Builder().maxNewTokens(6).doSample(true).topK(0).seed(9)
                .build(0);
        List<long[]> sampled = SearchEngine.generate(files.get(SearchKind.SAMPLING), SearchKind.SAMPLING, prompts,
                sample, ToyDecoder.PAD);
        assertEquals(3, sampled.size());
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(prompts.get(r), Arrays.copyOf(sampled.get(r), prompts.get(r).length));
        }
    }

    /** Greedy decoding by re-running the plain decoder on the whole sequence each step (no cache). */
    private static long[] referenceGreedy(OrtSession plain, ToyDecoder toy, long[] prompt, int newTokens) {
        long[] seq = prompt.clone();
        boolean seqMajor = toy.spec().cache().axes().get(1).equals("past_sequence_length");
        int kv = toy.config().numKeyValueHeads();
        for (int step = 0; step < newTokens; step++) {
            int n = seq.length;
            long[] ones = new long[n];
            long[] positions = new long[n];
            for (int i = 0; i < n; i++) {
                ones[i] = 1;
                positions[i] = i;
            }
            Map<String, HostTensor> feed = new HashMap<>();
            feed.put("input_ids", HostTensor.ofLongs(seq, 1, n));
            feed.put("attention_mask", HostTensor.ofLongs(ones, 1, n));
            feed.put("position_ids", HostTensor.ofLongs(positions, 1, n));
            long[] empty = seqMajor ? new long[] {1, 0, kv, ToyDecoder.HEAD_DIM} : new long[] {1, kv, 0, ToyDecoder.HEAD_DIM};
            for (int l = 0; l < ToyDecoder.LAYERS; l++) {
                feed.put("past." + l + ".key", HostTensor.ofFloats(new float[0], empty));
                feed.put("past." + l + ".value", HostTensor.ofFloats(new float[0], empty));
            }
            float[] logits = OrtRunner.run(plain, feed).get("logits").floats();
            int best = 0;
            int offset = (n - 1) * ToyDecoder.VOCAB;
            for (int v = 1; v < ToyDecoder.VOCAB; v++) {
                if (logits[offset + v] > logits[offset + best]) {
                    best = v;
                }
            }
            seq = Arrays.copyOf(seq, n + 1);
            seq[n] = best;
            if (best == ToyDecoder.EOS) {
                break;
            }
        }
        return seq;
    }
}
