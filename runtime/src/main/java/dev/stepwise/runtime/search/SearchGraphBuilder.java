package dev.stepwise.runtime.search;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.export.AxisSizes;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.ExternalDataWriter;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Wraps any architecture's decoder in ONNX Runtime's {@code com.microsoft} {@code BeamSearch}, {@code GreedySearch}
 * or {@code Sampling} operator.
 *
 * <p>The operators drive a GPT-2-shaped decoder subgraph: inputs {@code input_ids}, {@code position_ids} int32
 * {@code [B, S]}, {@code attention_mask} int32 {@code [B, P + S]}, {@code past_0 .. past_{L-1}} float
 * {@code [2, B, heads, P, head_size]}; outputs {@code logits [B, S, vocab]} and {@code present_0 ..} float
 * {@code [2, B, heads, P + S, head_size]}, with heads, head size and vocab fixed numbers. The architecture's own
 * forward is traced into that contract through a thin adapter: the int32 inputs are cast to the forward's int64,
 * each stacked past is split into key and value (one Gather each), and each layer's present key and value are
 * stacked back (Unsqueeze, Unsqueeze, Concat). The operators read the head count only to size the empty first past,
 * so "heads" is the cache's own head axis: the key/value head count for grouped-query attention, no repetition.
 *
 * <p>By default the weights become initializers of the main graph, which the subgraph reads from the outer scope (as
 * onnxruntime's own tooling does for weights shared between subgraphs); the model then writes with
 * {@link OnnxModelWriter} inline or with external data like any other export.
 */
public final class SearchGraphBuilder {
    /** Name of the decoder subgraph (the operator's {@code decoder} attribute). */
    public static final String DECODER_GRAPH = "decoder";
    /** Custom metadata of the model: which operator it holds and the attributes it was built with. */
    public static final String META_KIND = "stepwise.search.kind";
    public static final String META_EOS = "stepwise.search.eos_token_id";
    public static final String META_PAD = "stepwise.search.pad_token_id";
    public static final String META_NO_REPEAT_NGRAM = "stepwise.search.no_repeat_ngram_size";
    public static final String META_EARLY_STOPPING = "stepwise.search.early_stopping";
    public static final String META_TEMPERATURE = "stepwise.search.temperature";
    public static final String META_TOP_P = "stepwise.search.top_p";
    public static final String META_POSITIONS_FROM_MASK = "stepwise.search.positions_from_mask";
    public static final String META_VOCAB = "stepwise.search.vocab_size";
    public static final String META_MAX_POSITIONS = "stepwise.search.max_positions";

    static final String BATCH = "batch_size";
    static final String SEQUENCE = "sequence_length";
    static final String PAST = CacheDecl.PAST_SEQUENCE;
    static final String TOTAL = CacheDecl.TOTAL_SEQUENCE;

    private SearchGraphBuilder() {
    }

    /**
     * Builds the model: one {@code com.microsoft} search node whose decoder subgraph is the architecture's traced
     * forward in the GPT-2 contract. Weights are handed to {@code sink} once each, as the forward asks for them.
     */
    public static ModelProto build(SearchKind kind, Architecture architecture, ModelConfig config, WeightSource weights,
                                   WeightSink sink, SearchOptions options) {
        ArchitectureSpec spec = architecture.spec();
        int opset = options.opset() > 0 ? options.opset() : spec.opset();
        long eos = eosId(config, options);
        long pad = options.padTokenId() >= 0 ? options.padTokenId() : config.padTokenId();
        if (pad < 0 || pad >= config.vocabSize()) {
            throw new StepwiseException(config.source() + ": pad token id " + pad + " is outside the vocabulary [0, "
                    + config.vocabSize() + ")");
        }

        RecordingSink recording = new RecordingSink(sink);
        GraphProto decoder = decoderGraph(architecture, config, weights, recording, opset, options.positionsFromMask());

        GraphBuilder outer = new GraphBuilder(spec.modelType() + " " + kind.opType(), opset);
        outer.importOpset("com.microsoft", 1);
        if (!options.weightsInDecoder()) {
            decoder = moveInitializers(decoder, recording.names(), outer);
        }

        List<String> inputs = new ArrayList<>();
        addInput(outer, inputs, "input_ids", DType.INT32, List.of(BATCH, SEQUENCE));
        addInput(outer, inputs, "max_length", DType.INT32, List.of(1L));
        addInput(outer, inputs, "min_length", DType.INT32, List.of(1L));
        if (kind == SearchKind.BEAM_SEARCH) {
            addInput(outer, inputs, "num_beams", DType.INT32, List.of(1L));
            addInput(outer, inputs, "num_return_sequences", DType.INT32, List.of(1L));
            addInput(outer, inputs, "length_penalty", DType.FLOAT, List.of(1L));
        }
        addInput(outer, inputs, "repetition_penalty", DType.FLOAT, List.of(1L));
        inputs.add(""); // vocab_mask
        inputs.add(""); // prefix_vocab_mask
        addInput(outer, inputs, "attention_mask", DType.INT32, List.of(BATCH, SEQUENCE));
        if (kind == SearchKind.SAMPLING) {
            inputs.add(""); // presence_mask
            addInput(outer, inputs, "seed", DType.INT32, List.of(1L));
        }

        List<AttributeProto> attributes = new ArrayList<>();
        attributes.add(Attributes.of("eos_token_id", eos));
        attributes.add(Attributes.of("pad_token_id", pad));
        attributes.add(Attributes.of("model_type", 0L)); // decoder-only, GPT-2 subgraph contract
        attributes.add(Attributes.of("vocab_size", (long) config.vocabSize()));
        attributes.add(Attributes.of("no_repeat_ngram_size", (long) options.noRepeatNgramSize()));
        if (kind == SearchKind.BEAM_SEARCH) {
            attributes.add(Attributes.of("early_stopping", options.earlyStopping() ? 1L : 0L));
        }
        if (kind == SearchKind.SAMPLING) {
            attributes.add(Attributes.of("temperature", options.temperature()));
            attributes.add(Attributes.of("top_p", options.topP()));
            attributes.add(Attributes.of("filter_value", Float.NEGATIVE_INFINITY));
            attributes.add(Attributes.of("min_tokens_to_keep", 1L));
            attributes.add(Attributes.of("presence_penalty", 0f));
            attributes.add(Attributes.of("custom", 0L));
        }
        attributes.add(AttributeProto.newBuilder().setName("decoder").setType(AttributeProto.AttributeType.GRAPH)
                .setG(decoder).build());

        String out = outer.addNode("com.microsoft", kind.opType(), inputs, 1, attributes.toArray(new AttributeProto[0]))
                .get(0);
        outer.renameNodeOutput(out, "sequences");
        List<Object> sequenceDims = kind.returnsSeveralPerPrompt()
                ? List.of(BATCH, "num_return_sequences", "max_length") : List.of(BATCH, "max_length");
        outer.addOutput(GraphBuilder.tensorInfo("sequences", OnnxTypes.elemType(DType.INT32), sequenceDims));

        outer.putMetadata("model_type", spec.modelType());
        outer.putMetadata(META_KIND, kind.cliName());
        outer.putMetadata(META_EOS, Long.toString(eos));
        outer.putMetadata(META_PAD, Long.toString(pad));
        outer.putMetadata(META_NO_REPEAT_NGRAM, Integer.toString(options.noRepeatNgramSize()));
        outer.putMetadata(META_EARLY_STOPPING, Boolean.toString(options.earlyStopping()));
        if (kind == SearchKind.SAMPLING) {
            outer.putMetadata(META_TEMPERATURE, Float.toString(options.temperature()));
            outer.putMetadata(META_TOP_P, Float.toString(options.topP()));
        }
        outer.putMetadata(META_POSITIONS_FROM_MASK, Boolean.toString(options.positionsFromMask()));
        outer.putMetadata(META_VOCAB, Integer.toString(config.vocabSize()));
        outer.putMetadata(META_MAX_POSITIONS, Integer.toString(config.maxPositions()));
        return outer.build(false);
    }

    /**
     * Builds the model and writes it as {@code dir/fileName}: weights are streamed into {@code fileName + "_data"} and
     * inlined afterwards unless they exceed {@code externalDataThresholdBytes}. Returns the model file.
     */
    public static Path write(SearchKind kind, Architecture architecture, ModelConfig config, WeightSource weights,
                             SearchOptions options, Path dir, String fileName, long externalDataThresholdBytes) {
        String dataFile = fileName + "_data";
        try (ExternalDataWriter sink = new ExternalDataWriter(dir.resolve(dataFile))) {
            ModelProto model = build(kind, architecture, config, weights, sink, options);
            boolean external = options.weightsInDecoder() || sink.bytesWritten() > externalDataThresholdBytes;
            sink.close();
            return OnnxModelWriter.write(model, dir, fileName, dataFile, external);
        }
    }

    static long eosId(ModelConfig config, SearchOptions options) {
        long eos;
        if (options.eosTokenId() >= 0) {
            eos = options.eosTokenId();
        } else {
            List<Long> ids = config.eosTokenIds();
            if (ids.isEmpty()) {
                throw new StepwiseException(config.source() + ": no eos_token_id; ONNX Runtime's search operators need one");
            }
            eos = ids.get(0);
        }
        if (eos < 0 || eos >= config.vocabSize()) {
            throw new StepwiseException(config.source() + ": eos token id " + eos + " is outside the vocabulary [0, "
                    + config.vocabSize() + ")");
        }
        return eos;
    }

    /**
     * The decoder subgraph alone: the architecture's forward traced with symbolic batch and sequence axes into the
     * GPT-2 contract, every weight an initializer of this graph.
     */
    public static GraphProto decoderGraph(Architecture architecture, ModelConfig config, WeightSource weights,
                                          WeightSink sink, int opset, boolean positionsFromMask) {
        ArchitectureSpec spec = architecture.spec();
        if (!spec.supports(Task.TEXT_GENERATION_WITH_PAST)) {
            throw new StepwiseException(spec.modelType() + " has no KV cache (task text-generation-with-past), which "
                    + "the search operators need");
        }
        CacheLayout layout = CacheLayout.of(spec, config);
        TensorDecl logitsDecl = spec.outputs().get(0);
        if (logitsDecl.type() != DType.FLOAT) {
            throw new StepwiseException(spec.modelType() + ": logits are " + logitsDecl.type()
                    + "; the search graphs are built in float32");
        }

        GraphBuilder graph = new GraphBuilder(DECODER_GRAPH, opset);
        TracingOps ops = new TracingOps(graph, weights, sink);
        AxisSizes axes = AxisSizes.dynamic();

        // The contract's inputs, in the order the operators feed them.
        Tensor ids = ops.input("input_ids", DType.INT32, List.of(BATCH, SEQUENCE));
        Tensor positions = ops.input("position_ids", DType.INT32, List.of(BATCH, SEQUENCE));
        Tensor mask = ops.input("attention_mask", DType.INT32, List.of(BATCH, TOTAL));
        int layers = config.numLayers();
        List<Tensor> pasts = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            pasts.add(ops.input("past_" + l, DType.FLOAT,
                    List.of(2L, BATCH, (long) layout.heads(), PAST, (long) layout.headDim())));
        }

        // The forward's inputs.
        Tensor ids64 = ops.cast(ids, DType.INT64);
        Tensor mask64 = ops.cast(mask, DType.INT64);
        Tensor inputIds = null;
        Tensor attentionMask = null;
        Tensor positionIds = null;
        for (TensorDecl in : spec.inputs()) {
            switch (in.name()) {
                case "input_ids" -> inputIds = ops.cast(ids64, in.type());
                case "attention_mask" -> attentionMask = ops.cast(mask64, in.type());
                case "position_ids" -> positionIds = ops.cast(positionsFromMask
                        ? positionsFromMask(ops, mask64, ids64) : ops.cast(positions, DType.INT64), in.type());
                default -> throw new StepwiseException(spec.modelType() + ": input '" + in.name()
                        + "' has no counterpart in the search operators' decoder contract");
            }
        }
        if (inputIds == null || attentionMask == null) {
            throw new StepwiseException(spec.modelType() + ": the search operators need input_ids and attention_mask");
        }
        DecoderInputs decoderInputs = new DecoderInputs(inputIds, attentionMask, positionIds);

        KvCache kv = KvCache.withPast(layers);
        for (int l = 0; l < layers; l++) {
            Tensor key = layout.fromContract(ops, ops.select(pasts.get(l), 0, 0));
            Tensor value = layout.fromContract(ops, ops.select(pasts.get(l), 0, 1));
            kv.setPast(l, key, value);
        }

        Tensor logits = architecture.newModel().forward(ops, config, decoderInputs, kv);
        ops.output("logits", logits, DType.FLOAT, axes.resolveAll(logitsDecl.axes(), config));
        for (int l = 0; l < layers; l++) {
            Tensor key = ops.unsqueeze(layout.toContract(ops, kv.presentKey(l)), 0);
            Tensor value = ops.unsqueeze(layout.toContract(ops, kv.presentValue(l)), 0);
            ops.output("present_" + l, ops.concat(0, key, value), DType.FLOAT,
                    List.of(2L, BATCH, (long) layout.heads(), TOTAL, (long) layout.headDim()));
        }
        return withoutDeadNodes(graph.buildGraph(false));
    }

    /**
     * Drops nodes and constants no output depends on: the adapter offers every forward position ids, and a forward
     * that derives its own from the mask (OPT, BioGPT) leaves them unread. Graph inputs stay (they are the contract).
     */
    static GraphProto withoutDeadNodes(GraphProto graph) {
        Set<String> needed = new HashSet<>();
        graph.getOutputList().forEach(o -> needed.add(o.getName()));
        List<NodeProto> kept = new ArrayList<>();
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            NodeProto node = graph.getNode(i);
            if (node.getOutputList().stream().anyMatch(needed::contains)) {
                kept.add(0, node);
                needed.addAll(node.getInputList());
            }
        }
        if (kept.size() == graph.getNodeCount()) {
            return graph;
        }
        GraphProto.Builder b = graph.toBuilder().clearNode().addAllNode(kept).clearInitializer();
        graph.getInitializerList().stream().filter(t -> needed.contains(t.getName())).forEach(b::addInitializer);
        return b.build();
    }

    /**
     * Position ids the way transformers derives them from the mask: cumulative sum − 1 over the whole mask, padding
     * at 1, the last {@code sequence} columns kept. ONNX Runtime's own position ids compare the prompt with the pad id.
     */
    private static Tensor positionsFromMask(TracingOps ops, Tensor mask64, Tensor ids64) {
        Tensor counted = ops.sub(ops.cumsum(mask64, 1), ops.longs(1));
        Tensor positions = ops.where(ops.greater(mask64, ops.longs(0)), counted, ops.longs(1));
        Dim total = ops.dim(mask64, 1);
        Dim sequence = ops.dim(ids64, 1);
        return ops.slice(positions, 1, ops.sub(total, sequence), total);
    }

    /**
     * Moves the named initializers (the weights) out of the subgraph into the main graph. The subgraph keeps a
     * value_info for each, which ONNX Runtime needs to type an outer-scope value when it resolves the subgraph.
     */
    private static GraphProto moveInitializers(GraphProto decoder, Set<String> names, GraphBuilder outer) {
        GraphProto.Builder kept = decoder.toBuilder().clearInitializer();
        for (TensorProto t : decoder.getInitializerList()) {
            if (names.contains(t.getName())) {
                outer.addInitializer(t);
                long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
                kept.addValueInfo(GraphBuilder.tensorInfo(t.getName(), t.getDataType(), dims));
            } else {
                kept.addInitializer(t);
            }
        }
        return kept.build();
    }

    private static void addInput(GraphBuilder graph, List<String> inputs, String name, DType type, List<Object> dims) {
        graph.addInput(GraphBuilder.tensorInfo(name, OnnxTypes.elemType(type), dims));
        inputs.add(name);
    }

    /**
     * Where the architecture's cache layout puts batch, heads, sequence and head size, relative to the contract's
     * {@code [batch, heads, sequence, head_size]} (the stacked pair's axis 0 aside).
     */
    record CacheLayout(int heads, int headDim, int[] toDeclared, int[] toContract) {
        static CacheLayout of(ArchitectureSpec spec, ModelConfig config) {
            CacheDecl cache = spec.cache();
            if (cache == null) {
                throw new StepwiseException(spec.modelType() + " declares no KV cache");
            }
            if (cache.type() != DType.FLOAT) {
                throw new StepwiseException(spec.modelType() + ": the KV cache is " + cache.type()
                        + "; the search graphs are built in float32");
            }
            List<String> axes = cache.axes();
            int batch = axes.indexOf(BATCH);
            int sequence = axes.indexOf(PAST);
            int headDim = axes.indexOf("head_dim");
            int kvHeads = axes.indexOf("num_key_value_heads");
            int heads = kvHeads >= 0 ? kvHeads : axes.indexOf("num_attention_heads");
            if (axes.size() != 4 || batch < 0 || sequence < 0 || headDim < 0 || heads < 0) {
                throw new StepwiseException(spec.modelType() + ": cache axes " + axes + " are not batch, heads, "
                        + "past sequence and head_dim in some order, the layout the search operators carry");
            }
            int headCount = kvHeads >= 0 ? config.numKeyValueHeads() : config.numAttentionHeads();
            int[] contractOfDeclared = {batch, heads, sequence, headDim}; // contract axis i is declared axis [i]
            int[] toDeclared = new int[4];
            for (int i = 0; i < 4; i++) {
                toDeclared[contractOfDeclared[i]] = i;
            }
            return new CacheLayout(headCount, config.headDim(), toDeclared, contractOfDeclared);
        }

        /** A contract-ordered {@code [B, H, P, D]} tensor in the architecture's declared order. */
        Tensor fromContract(TracingOps ops, Tensor x) {
            return ops.transpose(x, toDeclared);
        }

        /** A tensor in the declared order as the contract's {@code [B, H, P, D]}. */
        Tensor toContract(TracingOps ops, Tensor x) {
            return ops.transpose(x, toContract);
        }
    }

    /** Passes weights through and remembers their initializer names. */
    private static final class RecordingSink implements WeightSink {
        private final WeightSink delegate;
        private final Set<String> names = new HashSet<>();

        RecordingSink(WeightSink delegate) {
            this.delegate = delegate;
        }

        Set<String> names() {
            return names;
        }

        @Override
        public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
            TensorProto t = delegate.write(name, type, dims, data);
            names.add(t.getName());
            return t;
        }

        @Override
        public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
            TensorProto t = delegate.writeTransposed(name, type, rows, cols, data);
            names.add(t.getName());
            return t;
        }
    }
}
