package dev.stepwise.runtime.loop;

import static dev.stepwise.runtime.onnx.Attributes.of;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.export.AxisSizes;
import dev.stepwise.runtime.export.ExportOptions;
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
import dev.stepwise.runtime.onnx.TracedTensor;
import dev.stepwise.runtime.onnx.TracingOps;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The whole generation as one ONNX graph ({@code model_loop.onnx}): the architecture's decoder step, traced once
 * with symbolic dims, becomes the body of an ONNX {@code Loop}; the token choice (greedy, or seeded sampling with
 * temperature, top-k and top-p: the Java generator's rule and draw, see {@link LoopSampling}) and the
 * end-of-sequence bookkeeping are written around it in standard-domain operators only, so any ONNX runtime can run
 * the file.
 *
 * <h2>Contract</h2>
 * <table>
 *   <tr><th>input</th><th>type</th><th>shape</th><th>meaning</th></tr>
 *   <tr><td>{@code input_ids}</td><td>int64</td><td>[batch_size, sequence_length]</td><td>left-padded prompts</td></tr>
 *   <tr><td>{@code attention_mask}</td><td>int64</td><td>[batch_size, sequence_length]</td><td>0 = padding</td></tr>
 *   <tr><td>{@code max_new_tokens}</td><td>int64</td><td>[]</td><td>at most this many steps</td></tr>
 *   <tr><td>{@code min_new_tokens}</td><td>int64</td><td>[]</td><td>eos is impossible before this step</td></tr>
 *   <tr><td>{@code do_sample}</td><td>bool</td><td>[]</td><td>false = greedy</td></tr>
 *   <tr><td>{@code temperature}</td><td>float</td><td>[]</td><td>≤ 0 = greedy even when sampling</td></tr>
 *   <tr><td>{@code top_k}</td><td>int64</td><td>[]</td><td>≤ 0 or ≥ vocab = off</td></tr>
 *   <tr><td>{@code top_p}</td><td>double</td><td>[]</td><td>≥ 1 = off (double, as the Java generator compares
 *       it)</td></tr>
 *   <tr><td>{@code seed}</td><td>int64</td><td>[]</td><td>the sampling seed</td></tr>
 *   <tr><td>{@code eos_token_id}</td><td>int64</td><td>[num_eos]</td><td>any of them ends a row; may be empty</td></tr>
 *   <tr><td>{@code pad_token_id}</td><td>int64</td><td>[]</td><td>emitted by rows that ended</td></tr>
 * </table>
 * Every input is required (ONNX Runtime's Java binding cannot feed overridable initializers); the config's eos and
 * pad ids are written into the model's metadata ({@code eos_token_id}, comma-separated, and {@code pad_token_id}).
 * The output {@code generated_ids} int64 {@code [batch_size, new_tokens]} holds the new tokens only; rows that
 * produced an eos id continue with the pad id; {@code new_tokens ≤ max_new_tokens} because the loop stops as soon
 * as every row has produced an eos id. {@code max_new_tokens ≤ 0} gives {@code [batch_size, 0]}.
 *
 * <h2>Inside</h2>
 * Position ids come from the mask ({@code cumsum − 1}, padded slots 1). The body's loop-carried values are the step's
 * input ids, attention mask, position ids, every past key/value and the per-row finished flags; its scan output is
 * the chosen token. Iteration 0 runs the step on the whole prompt with an empty past (prefill), so the decoder is
 * traced once and there is one copy of its nodes. Weights (and every constant) are initializers of the main graph,
 * referenced from the body by name as outer-scope values; greedy and sampling are the two branches of an {@code If},
 * and top-k, top-p and the min_new_tokens eos ban are {@code If}s too, so a greedy run never sorts the vocabulary.
 */
public final class LoopGraphBuilder {
    public static final String FILE = "model_loop.onnx";
    public static final String DATA_FILE = "model_loop.onnx_data";

    public static final String INPUT_IDS = "input_ids";
    public static final String ATTENTION_MASK = "attention_mask";
    public static final String MAX_NEW_TOKENS = "max_new_tokens";
    public static final String MIN_NEW_TOKENS = "min_new_tokens";
    public static final String DO_SAMPLE = "do_sample";
    public static final String TEMPERATURE = "temperature";
    public static final String TOP_K = "top_k";
    public static final String TOP_P = "top_p";
    public static final String SEED = "seed";
    public static final String EOS_TOKEN_ID = "eos_token_id";
    public static final String PAD_TOKEN_ID = "pad_token_id";
    public static final String GENERATED_IDS = "generated_ids";

    public static final long DEFAULT_MAX_NEW_TOKENS = 20;
    /** Loop, If, and the opset-13 forms of Squeeze/Unsqueeze/ReduceSum with axes as an input. */
    public static final int MIN_OPSET = TracingOps.MIN_OPSET;

    /** Metadata keys written into the model. */
    public static final String META_FORMAT = "stepwise.format";
    public static final String FORMAT = "generation-loop";
    public static final String META_SAMPLING = "stepwise.sampling";
    /**
     * Names the token-choice procedure ({@code TokenSampler}, see {@link LoopSampling}); the metadata value is this
     * followed by {@code +} and the draw ({@code seeded_uniform} or {@code feistel}).
     */
    public static final String SAMPLING = "token-sampler/v1";

    private static final int FLOAT = OnnxTypes.elemType(DType.FLOAT);
    private static final int INT64 = OnnxTypes.elemType(DType.INT64);
    private static final int BOOL = OnnxTypes.elemType(DType.BOOL);

    private LoopGraphBuilder() {
    }

    /**
     * Builds the loop graph. Weights are handed to {@code sink} as the decoder step asks for them, once each (a
     * {@link SharedWeightSink} lets them point into an existing export's weights file).
     */
    public static ModelProto build(Architecture architecture, ModelConfig config, WeightSource weights, WeightSink sink,
                                   int opset) {
        return build(architecture, config, weights, sink, opset, LoopSampling.Draw.FEISTEL);
    }

    /** As {@link #build(Architecture, ModelConfig, WeightSource, WeightSink, int)} with a choice of uniform draw. */
    public static ModelProto build(Architecture architecture, ModelConfig config, WeightSource weights, WeightSink sink,
                                   int opset, LoopSampling.Draw draw) {
        if (opset < MIN_OPSET) {
            throw new StepwiseException("the loop graph needs opset " + MIN_OPSET + " or newer, got " + opset);
        }
        return new Build(architecture, config, weights, sink, opset, draw).run();
    }

    /**
     * Builds the loop graph of a checkpoint folder and writes {@code outputDir/model_loop.onnx}; its weights go to
     * {@code model_loop.onnx_data} when they are larger than the export's external-data threshold, else inline.
     * Returns the model file.
     */
    public static Path write(Architecture architecture, Path checkpointDir, Path outputDir, int opset) {
        return write(architecture, checkpointDir, outputDir, opset, null);
    }

    /**
     * As {@link #write(Architecture, Path, Path, int)}, next to an exported decoder {@code shareWith} (the parsed
     * {@code model.onnx} of the same folder, or null): every weight the decoder keeps in external data is referenced
     * from there, so the folder holds the weights once. Weights the decoder has inline are written again.
     */
    public static Path write(Architecture architecture, Path checkpointDir, Path outputDir, int opset,
                             ModelProto shareWith) {
        return write(architecture, checkpointDir, outputDir, opset, shareWith, LoopSampling.Draw.FEISTEL);
    }

    /** The full form of {@link #write(Architecture, Path, Path, int, ModelProto)}, with a choice of uniform draw. */
    public static Path write(Architecture architecture, Path checkpointDir, Path outputDir, int opset,
                             ModelProto shareWith, LoopSampling.Draw draw) {
        ArchitectureSpec spec = architecture.spec();
        ModelConfig config = ModelConfig.read(checkpointDir.resolve("config.json"), spec.configKeys());
        try {
            Files.createDirectories(outputDir);
        } catch (IOException e) {
            throw new StepwiseException(outputDir + ": cannot create the folder: " + e.getMessage(), e);
        }
        try (Checkpoint checkpoint = Checkpoint.open(checkpointDir)) {
            checkpoint.checkAgainst(architecture.newModel().expectedWeights(config));
            try (ExternalDataWriter data = new ExternalDataWriter(outputDir.resolve(DATA_FILE))) {
                WeightSink sink = shareWith == null ? data : new SharedWeightSink(shareWith, data);
                ModelProto model = build(architecture, config, checkpoint, sink, opset > 0 ? opset : spec.opset(), draw);
                boolean external = data.bytesWritten() > ExportOptions.DEFAULT_EXTERNAL_DATA_THRESHOLD;
                data.close();
                return OnnxModelWriter.write(model, outputDir, FILE, DATA_FILE, external);
            }
        }
    }

    /** One build: the main graph, the step body, and the choice branches. */
    private static final class Build {
        private final Architecture architecture;
        private final ArchitectureSpec spec;
        private final ModelConfig config;
        private final WeightSource weights;
        private final WeightSink sink;
        private final int opset;
        private final LoopSampling.Draw draw;
        private final int vocab;
        private final boolean hasPositions;

        private final GraphBuilder main;
        private final Nodes g;

        // main-graph values the body reads
        private String drawLeft;      // MIX: the row hash; FEISTEL: the seed word
        private String drawRight;     // FEISTEL: row * 65536
        private String ones;
        private String eosRow;
        private String eosInVocab;
        private String vocabIds;      // [1, V]
        private String sampleFlag;
        private String topKOn;
        private String topK1;         // [1]
        private String topPOn;
        private String topPLimit;     // 1 - top_p, double

        Build(Architecture architecture, ModelConfig config, WeightSource weights, WeightSink sink, int opset,
              LoopSampling.Draw draw) {
            this.architecture = architecture;
            this.spec = architecture.spec();
            this.config = config;
            this.weights = weights;
            this.sink = sink;
            this.opset = opset;
            this.draw = draw;
            this.vocab = config.vocabSize();
            this.main = new GraphBuilder(spec.modelType() + "-generation-loop", opset);
            this.g = new Nodes(main, "gen");
            Set<String> inputs = new HashSet<>();
            for (TensorDecl d : spec.inputs()) {
                inputs.add(d.name());
            }
            if (!inputs.contains("input_ids") || !inputs.contains("attention_mask")
                    || !inputs.stream().allMatch(n -> Set.of("input_ids", "attention_mask", "position_ids").contains(n))) {
                throw new StepwiseException(spec.modelType() + ": the loop graph needs a decoder whose inputs are"
                        + " input_ids, attention_mask and optionally position_ids; it declares " + inputs);
            }
            this.hasPositions = inputs.contains("position_ids");
            if (spec.cache().type() != DType.FLOAT) {
                throw new StepwiseException(spec.modelType() + ": the loop graph supports a float32 KV cache, the"
                        + " architecture declares " + spec.cache().type());
            }
        }

        ModelProto run() {
            declareInputs();
            main.push("generate");
            String shape = g.op("Shape", INPUT_IDS);
            String batch1 = g.op("Gather", shape, g.i64s(0), of("axis", 0L));    // [1]
            String batch = g.op("Gather", shape, g.i64(0), of("axis", 0L));      // []
            String positions = g.op("Where", g.op("Equal", ATTENTION_MASK, g.i64(0)), g.i64(1),
                    g.op("Sub", g.op("CumSum", ATTENTION_MASK, g.i64(1)), g.i64(1)));
            String emptyPast = g.op("ConstantOfShape", pastShape(batch1), Nodes.fill(DType.FLOAT, new byte[4]));
            String notFinished = g.op("ConstantOfShape", batch1, Nodes.fill(DType.BOOL, new byte[1]));
            ones = g.op("ConstantOfShape", g.op("Concat", List.of(batch1, g.i64s(1)), of("axis", 0L)),
                    Nodes.fill(DType.INT64, Nodes.le(8).putLong(1).array()));
            String rows = g.op("Range", g.i64(0), batch, g.i64(1));
            if (draw == LoopSampling.Draw.FEISTEL) {
                drawLeft = g.op("Mod", SEED, g.i64(LoopSampling.P));
                drawRight = g.op("Mul", rows, g.i64(LoopSampling.ROW_STRIDE));
            } else {
                // SeededUniform: mix((mix(seed mod M) + row) mod M); the step is added in the loop
                String seedHash = seededMix(g, g.op("Mod", SEED, g.i64(LoopSampling.M)));
                drawLeft = seededMix(g, g.op("Mod", g.op("Add", seedHash, rows), g.i64(LoopSampling.M)));
            }
            eosRow = g.op("Unsqueeze", EOS_TOKEN_ID, g.i64s(0));                  // [1, n]
            vocabIds = g.op("Unsqueeze", g.op("Range", g.i64(0), g.i64(vocab), g.i64(1)), g.i64s(0)); // [1, V]
            String column = g.op("Unsqueeze", g.op("Squeeze", vocabIds, g.i64s(0)), g.i64s(1));    // [V, 1]
            eosInVocab = g.op("Greater", sum(g, g.op("Equal", column, eosRow), 1, false), g.i64(0)); // [V]
            sampleFlag = g.op("And", DO_SAMPLE, g.op("Greater", TEMPERATURE, g.f32(0)));
            topKOn = g.op("And", g.op("Greater", TOP_K, g.i64(0)), g.op("Less", TOP_K, g.i64(vocab)));
            topK1 = g.op("Unsqueeze", TOP_K, g.i64s(0));
            topPOn = g.op("Less", TOP_P, g.f64(1));
            topPLimit = g.op("Sub", g.f64(1), TOP_P);
            String go = g.op("Greater", MAX_NEW_TOKENS, g.i64(0));

            List<String> loopInputs = new ArrayList<>(List.of(MAX_NEW_TOKENS, go, INPUT_IDS, ATTENTION_MASK));
            if (hasPositions) {
                loopInputs.add(positions);
            }
            for (int l = 0; l < 2 * config.numLayers(); l++) {
                loopInputs.add(emptyPast);
            }
            loopInputs.add(notFinished);

            GraphProto body = body();
            List<TensorProto> hoisted = new ArrayList<>();
            body = hoist(body, hoisted);
            for (TensorProto t : hoisted) {
                main.addInitializer(t);
            }
            int carried = loopInputs.size() - 2;
            List<String> loopOutputs = g.ops("Loop", carried + 1, loopInputs, Nodes.graphAttribute("body", body));
            String tokens = loopOutputs.get(carried);                              // [steps, batch]
            String byRow = g.op("Reshape", tokens, g.op("Concat", List.of(g.i64s(-1), batch1), of("axis", 0L)));
            String generated = g.rename(g.op("Transpose", byRow, Attributes.ints("perm", 1L, 0L)), GENERATED_IDS);
            main.pop();
            main.addOutput(GraphBuilder.tensorInfo(generated, INT64, List.of("batch_size", "new_tokens")));

            main.putMetadata(META_FORMAT, FORMAT);
            main.putMetadata(META_SAMPLING, SAMPLING + "+" + draw.name().toLowerCase(java.util.Locale.ROOT));
            main.putMetadata("model_type", spec.modelType());
            main.putMetadata("vocab_size", Integer.toString(vocab));
            main.putMetadata("num_layers", Integer.toString(config.numLayers()));
            main.putMetadata("eos_token_id", String.join(",", config.eosTokenIds().stream().map(String::valueOf).toList()));
            main.putMetadata("pad_token_id", Long.toString(config.padTokenId()));
            if (config.maxPositions() != Integer.MAX_VALUE) {
                main.putMetadata("max_positions", Integer.toString(config.maxPositions()));
            }
            ModelProto model = main.build(false);
            checkUniqueNames(model.getGraph());
            return model;
        }

        private void declareInputs() {
            main.addInput(GraphBuilder.tensorInfo(INPUT_IDS, INT64, List.of("batch_size", "sequence_length")));
            main.addInput(GraphBuilder.tensorInfo(ATTENTION_MASK, INT64, List.of("batch_size", "sequence_length")));
            for (String name : List.of(MAX_NEW_TOKENS, MIN_NEW_TOKENS, TOP_K, SEED, PAD_TOKEN_ID)) {
                main.addInput(GraphBuilder.tensorInfo(name, INT64, List.of()));
            }
            main.addInput(GraphBuilder.tensorInfo(DO_SAMPLE, BOOL, List.of()));
            main.addInput(GraphBuilder.tensorInfo(TEMPERATURE, FLOAT, List.of()));
            main.addInput(GraphBuilder.tensorInfo(TOP_P, Nodes.DOUBLE, List.of()));
            main.addInput(GraphBuilder.tensorInfo(EOS_TOKEN_ID, INT64, List.of("num_eos")));
        }

        /** {@code [batch, ..., 0, ...]}: the cache layout with an empty sequence axis. */
        private String pastShape(String batch1) {
            List<String> parts = new ArrayList<>();
            for (String axis : spec.cache().axes()) {
                if (axis.equals("batch_size")) {
                    parts.add(batch1);
                } else if (axis.equals(CacheDecl.PAST_SEQUENCE)) {
                    parts.add(g.i64s(0));
                } else {
                    Object size = AxisSizes.dynamic().resolve(axis, config);
                    if (!(size instanceof Number n)) {
                        throw new StepwiseException(spec.modelType() + ": cache axis '" + axis
                                + "' has no size known before the loop");
                    }
                    parts.add(g.i64s(n.longValue()));
                }
            }
            return g.op("Concat", parts, of("axis", 0L));
        }

        // ---- the step ----

        private GraphProto body() {
            GraphBuilder step = new GraphBuilder("generation_step", opset);
            Nodes b = new Nodes(step, "step");
            for (String outer : List.of(MIN_NEW_TOKENS, PAD_TOKEN_ID, ones, eosRow, eosInVocab, sampleFlag)) {
                b.outer(outer);
            }
            TracingOps ops = new TracingOps(step, weights, sink);
            AxisSizes sizes = AxisSizes.dynamic();
            TracedTensor iteration = ops.input("iteration", DType.INT64, List.of());
            ops.input("cond_in", DType.BOOL, List.of());
            Map<String, TracedTensor> in = new LinkedHashMap<>();
            for (String name : hasPositions ? List.of("input_ids", "attention_mask", "position_ids")
                    : List.of("input_ids", "attention_mask")) {
                TensorDecl decl = spec.inputs().stream().filter(d -> d.name().equals(name)).findFirst().orElseThrow();
                in.put(name, ops.input("step." + name, DType.INT64, sizes.resolveAll(decl.axes(), config)));
            }
            int layers = config.numLayers();
            CacheDecl cache = spec.cache();
            KvCache kv = KvCache.withPast(layers);
            for (int l = 0; l < layers; l++) {
                kv.setPast(l, ops.input("step." + cache.pastName(l, "key"), cache.type(), sizes.resolveAll(cache.axes(), config)),
                        ops.input("step." + cache.pastName(l, "value"), cache.type(), sizes.resolveAll(cache.axes(), config)));
            }
            TracedTensor finished = ops.input("step.finished", DType.BOOL, List.of("batch_size"));

            Tensor logits = architecture.newModel().forward(ops, config,
                    new DecoderInputs(in.get("input_ids"), in.get("attention_mask"), in.get("position_ids")), kv);
            Dim sequence = ops.dim(logits, 1);
            TracedTensor last = (TracedTensor) ops.slice(logits, 1, ops.sub(sequence, Dim.of(1)), sequence);

            step.push("choose");
            String scores = b.op("Squeeze", last.name(), b.i64s(1));                // [B, V]
            // eos cannot be chosen before min_new_tokens
            String early = b.op("Less", iteration.name(), MIN_NEW_TOKENS);
            String suppressed = b.op("If", List.of(early),
                    Nodes.graphAttribute("then_branch", suppressEos(scores)),
                    Nodes.graphAttribute("else_branch", passThrough("keep_scores", scores)));
            String choice = b.op("If", List.of(sampleFlag),
                    Nodes.graphAttribute("then_branch", sample(suppressed, iteration.name())),
                    Nodes.graphAttribute("else_branch", greedy(suppressed)));
            String token = b.op("Where", finished.name(), PAD_TOKEN_ID, choice);   // [B]
            String column = b.op("Unsqueeze", token, b.i64s(1));                    // [B, 1]
            String isEos = b.op("Greater", sum(b, b.op("Equal", column, eosRow), 1, false), b.i64(0));
            String finishedOut = b.op("Or", finished.name(), isEos);
            String anyOpen = b.op("Greater", b.op("ReduceSum", List.of(b.op("Cast", b.op("Not", finishedOut),
                    of("to", (long) INT64))), of("keepdims", 0L)), b.i64(0));
            String maskOut = b.op("Concat", List.of(in.get("attention_mask").name(), ones), of("axis", 1L));
            step.pop();

            step.addOutput(GraphBuilder.tensorInfo(anyOpen, BOOL, List.of()));
            step.addOutput(unknown(column, INT64, 2));
            step.addOutput(unknown(maskOut, INT64, 2));
            if (hasPositions) {
                String positions = in.get("position_ids").name();
                String lastPosition = b.op("Slice", List.of(positions, b.i64s(-1), b.i64s(Long.MAX_VALUE), b.i64s(1)));
                step.addOutput(unknown(b.op("Add", lastPosition, b.i64(1)), INT64, 2));
            }
            int rank = cache.axes().size();
            int cacheType = OnnxTypes.elemType(cache.type());
            for (int l = 0; l < layers; l++) {
                step.addOutput(unknown(((TracedTensor) kv.presentKey(l)).name(), cacheType, rank));
                step.addOutput(unknown(((TracedTensor) kv.presentValue(l)).name(), cacheType, rank));
            }
            step.addOutput(unknown(finishedOut, BOOL, 1));
            step.addOutput(unknown(token, INT64, 1));
            return step.buildGraph(false);
        }

        /** An If branch named {@code name} of one output, which {@code body} computes and names on the branch's nodes. */
        private GraphProto branch(String name, int type, int rank, Function<Nodes, String> body) {
            return branch(name, name, type, rank, body);
        }

        private GraphProto branch(String name, String prefix, int type, int rank,
                                  Function<Nodes, String> body) {
            GraphBuilder branch = new GraphBuilder(name, opset);
            Nodes n = new Nodes(branch, prefix);
            branch.push(name);
            branch.addOutput(unknown(body.apply(n), type, rank));
            return branch.buildGraph(false);
        }

        private GraphProto suppressEos(String scores) {
            return branch("suppress_eos", "suppress", FLOAT, 2,
                    n -> n.op("Where", n.outer(eosInVocab), n.f32(Float.NEGATIVE_INFINITY), n.outer(scores)));
        }

        private GraphProto passThrough(String name, String value) {
            return branch(name, FLOAT, 2, n -> n.op("Identity", n.outer(value)));
        }

        private GraphProto greedy(String scores) {
            return branch("greedy", INT64, 1, n -> n.op("ArgMax", n.outer(scores), of("axis", 1L), of("keepdims", 0L)));
        }

        /** {@link dev.stepwise.runtime.generate.TokenSampler}'s warpers and draw, see {@link LoopSampling}. */
        private GraphProto sample(String scores, String iteration) {
            return branch("sample", INT64, 1, n -> {
                String scaled = n.op("Div", n.outer(scores), n.outer(TEMPERATURE));
                String topK = n.op("If", List.of(n.outer(topKOn)),
                        Nodes.graphAttribute("then_branch", topK(scaled)),
                        Nodes.graphAttribute("else_branch", passThrough("top_k_off", scaled)));
                String topP = n.op("If", List.of(n.outer(topPOn)),
                        Nodes.graphAttribute("then_branch", topP(topK)),
                        Nodes.graphAttribute("else_branch", passThrough("top_p_off", topK)));

                String probs = n.op("Softmax", n.op("Cast", topP, of("to", (long) Nodes.DOUBLE)), of("axis", 1L));
                String cdf = n.op("CumSum", probs, n.i64(1));
                String u = n.op("Unsqueeze", uniform(n, n.outer(iteration)), n.i64s(1));              // [B, 1]
                String below = sum(n, n.op("LessOrEqual", cdf, u), 1, false);                         // [B]
                String positive = n.op("Where", n.op("Greater", probs, n.f64(0)), n.outer(vocabIds), n.i64(-1));
                String lastPositive = reduceMax(n, positive, 1);
                String token = n.op("Where", n.op("Less", below, n.i64(vocab)), below, lastPositive);
                return token;
            });
        }

        /** Scores below the k-th largest become -inf (ties with it stay). */
        private GraphProto topK(String scores) {
            return branch("top_k", FLOAT, 2, n -> {
                String values = n.ops("TopK", 2, List.of(n.outer(scores), n.outer(topK1)),
                        of("axis", 1L), of("largest", 1L), of("sorted", 1L)).get(0);
                String kth = n.op("Slice", List.of(values, n.i64s(-1), n.i64s(Long.MAX_VALUE), n.i64s(1)));
                String out = n.op("Where", n.op("Less", scores, kth), n.f32(Float.NEGATIVE_INFINITY), scores);
                return out;
            });
        }

        /**
         * Nucleus: in ascending order (ties by id) the tokens whose running probability is at most 1 − p become -inf,
         * the most likely one never.
         */
        private GraphProto topP(String scores) {
            return branch("top_p", FLOAT, 2, n -> {
                String ascending = n.ops("TopK", 2, List.of(n.outer(scores), n.i64s(vocab)),
                        of("axis", 1L), of("largest", 0L), of("sorted", 1L)).get(1);                // ids, [B, V]
                String probs = n.op("Softmax", n.op("Cast", scores, of("to", (long) Nodes.DOUBLE)), of("axis", 1L));
                String running = n.op("CumSum", n.op("GatherElements", probs, ascending, of("axis", 1L)), n.i64(1));
                String removed = n.op("Min", n.op("ReduceSum", List.of(n.op("Cast",
                        n.op("LessOrEqual", running, n.outer(topPLimit)), of("to", (long) INT64)), n.i64s(1)),
                        of("keepdims", 1L)), n.i64(vocab - 1L));                                       // [B, 1]
                // each id's place in the ascending order: ascending is a permutation, so it can serve as the data too
                String places = n.op("Expand", n.outer(vocabIds), n.op("Shape", ascending));
                String rank = n.op("ScatterElements", List.of(ascending, ascending, places), of("axis", 1L));
                String out = n.op("Where", n.op("Less", rank, removed), n.f32(Float.NEGATIVE_INFINITY), scores);
                return out;
            });
        }

        /** The draw in (0, 1) per row, double {@code [B]}. */
        private String uniform(Nodes n, String step) {
            if (draw == LoopSampling.Draw.FEISTEL) {
                String right = feistel(n, n.outer(drawLeft), n.op("Add", n.outer(drawRight), step));
                return n.op("Mul", n.op("Add", n.op("Cast", n.op("Div", right, n.i64(256)),
                        of("to", (long) Nodes.DOUBLE)), n.f64(0.5)), n.f64(0x1p-23));
            }
            String h = seededMix(n, n.op("Mod", n.op("Add", n.outer(drawLeft), step), n.i64(LoopSampling.M)));
            return n.op("Mul", n.op("Add", n.op("Cast", n.op("Div", h, n.i64(512)), of("to", (long) Nodes.DOUBLE)),
                    n.f64(0.5)), n.f64(0x1p-23));
        }

        /** ReduceMax over one axis, without keeping it (axes became an input in opset 18). */
        private String reduceMax(Nodes n, String x, long axis) {
            if (opset >= 18) {
                return n.op("ReduceMax", List.of(x, n.i64s(axis)), of("keepdims", 0L));
            }
            return n.op("ReduceMax", List.of(x), Attributes.ints("axes", axis), of("keepdims", 0L));
        }
    }

    // ---- shared pieces ----

    /**
     * One round of {@link dev.stepwise.runtime.generate.SeededUniform}'s mix on int64 values in [0, 2^32): every
     * product stays below 2^63, and the divisions are floor divisions of non-negative numbers.
     */
    private static String seededMix(Nodes n, String value) {
        String m = n.i64(LoopSampling.M);
        String x = n.op("Mod", n.op("Add", value, n.i64(0x9E3779B9L)), m);
        x = n.op("Mod", n.op("Mul", x, n.i64(0x7FEB352DL)), m);
        x = n.op("Mod", n.op("Add", x, n.op("Div", x, n.i64(32768))), m);
        x = n.op("Mod", n.op("Mul", x, n.i64(0x2C1B3C6DL)), m);
        x = n.op("Mod", n.op("Add", x, n.op("Div", x, n.i64(4096))), m);
        x = n.op("Mod", n.op("Mul", x, n.i64(0x297A2D39L)), m);
        return n.op("Mod", n.op("Add", x, n.op("Div", x, n.i64(32768))), m);
    }

    /** {@link LoopSampling#feistelHash} in int64 graph arithmetic (every operand below 2^62); returns the final R. */
    private static String feistel(Nodes n, String left, String right) {
        String p = n.i64(LoopSampling.P);
        String l = left;
        String r = n.op("Mod", right, p);
        for (int round = 0; round < LoopSampling.ROUNDS; round++) {
            String y = n.op("Mod", n.op("Add", n.op("Mul", r, n.i64(LoopSampling.A)), n.i64(LoopSampling.K)), p);
            y = n.op("Mod", n.op("Mul", y, y), p);
            y = n.op("Mod", n.op("Mul", y, n.i64(LoopSampling.B)), p);
            String next = n.op("Mod", n.op("Add", l, y), p);
            l = r;
            r = next;
        }
        return r;
    }

    /** Count of true values along {@code axis} (int64). */
    private static String sum(Nodes n, String bools, long axis, boolean keepDims) {
        return n.op("ReduceSum", List.of(n.op("Cast", bools, of("to", (long) INT64)), n.i64s(axis)),
                of("keepdims", keepDims ? 1L : 0L));
    }

    private static ValueInfoProto unknown(String name, int elemType, int rank) {
        List<Object> dims = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            dims.add(null);
        }
        return GraphBuilder.tensorInfo(name, elemType, dims);
    }

    /** The graph without initializers, in it or in any nested subgraph; they are appended to {@code out}. */
    static GraphProto hoist(GraphProto graph, List<TensorProto> out) {
        GraphProto.Builder b = graph.toBuilder();
        out.addAll(b.getInitializerList());
        b.clearInitializer();
        for (int i = 0; i < b.getNodeCount(); i++) {
            NodeProto node = b.getNode(i);
            if (node.getAttributeList().stream().noneMatch(a -> a.getType() == AttributeProto.AttributeType.GRAPH)) {
                continue;
            }
            NodeProto.Builder nb = node.toBuilder();
            for (int a = 0; a < nb.getAttributeCount(); a++) {
                AttributeProto attr = nb.getAttribute(a);
                if (attr.getType() == AttributeProto.AttributeType.GRAPH) {
                    nb.setAttribute(a, attr.toBuilder().setG(hoist(attr.getG(), out)));
                }
            }
            b.setNode(i, nb);
        }
        return b.build();
    }

    /**
     * Every value and node name of the model, subgraphs included, is defined once. Subgraphs read outer values by name, so a clash would silently shadow one.
     */
    static void checkUniqueNames(GraphProto main) {
        Set<String> seen = new HashSet<>();
        for (TensorProto t : main.getInitializerList()) {
            if (!seen.add(t.getName())) {
                throw new IllegalStateException("initializer '" + t.getName() + "' defined twice");
            }
        }
        collect(main, seen);
    }

    private static void collect(GraphProto graph, Set<String> seen) {
        for (ValueInfoProto i : graph.getInputList()) {
            define(seen, i.getName());
        }
        for (NodeProto n : graph.getNodeList()) {
            define(seen, "node:" + n.getName());
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    define(seen, o);
                }
            }
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getType() == AttributeProto.AttributeType.GRAPH) {
                    collect(a.getG(), seen);
                }
            }
        }
    }

    private static void define(Set<String> seen, String name) {
        if (!seen.add(name)) {
            throw new IllegalStateException("the loop graph defines '" + name + "' twice");
        }
    }
}
