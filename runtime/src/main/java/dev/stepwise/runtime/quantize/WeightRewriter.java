package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * What every weight quantization of a model does alike, whatever the quantized form: walks the main graph and every
 * subgraph (the decoder inside a Loop body or a BeamSearch op reads the main graph's weights from the outer scope),
 * finds the MatMuls, Gemms and Gathers whose weight is a 2-D float initializer in scope, hands each to the subclass
 * to rewrite ({@link #rewriteMatMul}, {@link #rewriteGather}; {@link #quantizes} may leave one as it is), puts the
 * quantized initializers in the graph that held the float weight, and drops what no node reads any more. The subclasses
 * are int8 dynamic ({@link DynamicInt8Rewriter}), int4 ({@link Int4Rewriter}) and int8 static QDQ
 * ({@link StaticQdqRewriter}); a Gemm bias is an Add after the product in all of them. In a static graph (a step graph
 * types every value) the subclasses type each new value ({@link Graph#typedLike}, {@link Graph#typed}), so it stays
 * static.
 *
 * <p>Covered: {@code MatMul(A, W)}; {@code Gemm(A, W, C)} with transA 0, alpha 1, beta 1 ({@code transposed} when
 * transB, so the weight is stored [N, K]); {@code MatMul(A, Transpose(E))} (a tied LM head reading the embedding);
 * with {@code embeddings}, {@code Gather(E, ids)} on axis 0. Weights whose K is below {@link #MIN_K} stay float (a
 * K = 1 outer product, such as rotary frequencies, has nothing to gain), as do weights matching {@code keepFloat}. A
 * float initializer no node reads afterwards is dropped; one still read (a tied embedding's Gather) stays.
 */
abstract class WeightRewriter {
    static final int MIN_K = 16;

    protected final OnnxModelReader source;
    protected final QuantizedWeights weights;
    private final Pattern keepFloat;
    private final boolean embeddings;
    private final Map<String, Integer> counts = new HashMap<>();
    private final List<String> keptFloat = new ArrayList<>();
    private final Set<String> orphanable = new HashSet<>();
    private Set<Long> vocabularies;

    WeightRewriter(OnnxModelReader source, QuantizedWeights weights, Pattern keepFloat, boolean embeddings) {
        this.source = source;
        this.weights = weights;
        this.keepFloat = keepFloat;
        this.embeddings = embeddings;
    }

    /**
     * The nodes that replace {@code node}, a MatMul or Gemm matched by {@code m}: they compute {@code A · W} into
     * {@code product}, which is the node's output, or, for a Gemm with a bias, a value the bias is added to after.
     */
    abstract List<NodeProto> rewriteMatMul(NodeProto node, Match m, Graph g, String product);

    /** The nodes that replace {@code node}, an embedding Gather matched by {@code m}, computing its output. */
    abstract List<NodeProto> rewriteGather(NodeProto node, Match m, Graph g);

    /**
     * Whether the matched {@code node} is rewritten; false leaves it as it is, uncounted (int8-static: an activation
     * calibration never observed).
     */
    boolean quantizes(NodeProto node, Match m) {
        return true;
    }

    /** A graph in the tree, with the quantized initializers it has to hold. */
    static final class Level {
        final List<TensorProto> added = new ArrayList<>();
        final Map<String, TensorProto> addedByName = new HashMap<>();
        final Map<String, List<String>> groups = new HashMap<>();
        /** Whether this is the model's main graph (not a Loop body, an If branch...). */
        final boolean isMain;

        Level() {
            this(false);
        }

        Level(boolean isMain) {
            this.isMain = isMain;
        }
    }

    /** An initializer in scope and the graph that holds it. */
    record Scoped(TensorProto tensor, Level owner) {
    }

    /** A weight to quantize: the initializer, whether it is stored [N, K], the Gemm bias if any, and the kind. */
    record Match(Scoped weight, boolean transposed, String bias, String kind) {
        TensorProto tensor() {
            return weight.tensor();
        }
    }

    /** The rewritten main graph, without the new main-graph initializers, which {@link #mainInitializers} holds. */
    record Result(GraphProto graph, List<TensorProto> mainInitializers) {
    }

    /**
     * One graph being rewritten: its level, the names in use, the types of the outer-scope values it reads (ONNX
     * Runtime types an outer-scope value a subgraph reads from the subgraph's value_info), the value_info it has (a
     * static step graph types every value), new value_info, and a memo for values the subclass derives once per graph.
     */
    static final class Graph {
        final Level level;
        final Map<String, String[]> memo = new HashMap<>();
        private final Set<String> names;
        private final Map<String, ValueInfoProto> types;
        private final Map<String, ValueInfoProto> added = new LinkedHashMap<>();

        private Graph(Level level, Set<String> names, Map<String, ValueInfoProto> types) {
            this.level = level;
            this.names = names;
            this.types = types;
        }

        /** {@code name}, or {@code name_1}, {@code name_2}... if that is taken; the result is taken from then on. */
        String unique(String name) {
            String n = name;
            for (int i = 1; !names.add(n); i++) {
                n = name + "_" + i;
            }
            return n;
        }

        /** Gives the new value {@code name} the type and shape of {@code like}, when the graph has one for it. */
        void typedLike(String name, String like) {
            ValueInfoProto v = types.get(like);
            if (v != null) {
                added.put(name, v.toBuilder().setName(name).build());
            }
        }

        /** As {@link #typedLike(String, String)} with the element type {@code elemType}. */
        void typedLike(String name, String like, int elemType) {
            ValueInfoProto v = types.get(like);
            if (v != null) {
                ValueInfoProto.Builder b = v.toBuilder().setName(name);
                b.getTypeBuilder().getTensorTypeBuilder().setElemType(elemType);
                added.put(name, b.build());
            }
        }

        /** Adds {@code t}, a new initializer of this graph's own (not of the graph holding a weight), and names it. */
        String own(TensorProto t) {
            level.added.add(t);
            level.addedByName.put(t.getName(), t);
            return t.getName();
        }

        /** Types the new value {@code name} as {@code elemType} {@code dims} when {@code like} is typed (a typed graph). */
        void typed(String name, String like, int elemType, long... dims) {
            if (types.containsKey(like)) {
                added.put(name, GraphBuilder.tensorInfo(name, elemType, dims));
            }
        }

        /**
         * The names of the initializers quantizing {@code m}'s weight, grouped under {@code key}: {@code make} builds
         * them the first time the graph that holds the float weight needs them; a subgraph reading them gets their
         * types.
         */
        List<String> hold(Match m, String key, Supplier<List<TensorProto>> make) {
            Level owner = m.weight().owner();
            List<String> group = owner.groups.get(key);
            if (group == null) {
                group = new ArrayList<>();
                for (TensorProto t : make.get()) {
                    owner.added.add(t);
                    owner.addedByName.put(t.getName(), t);
                    group.add(t.getName());
                }
                owner.groups.put(key, group);
            }
            if (owner != level) {
                for (String n : group) {
                    added.computeIfAbsent(n, k -> typeOf(owner.addedByName.get(k)));
                }
            }
            return group;
        }
    }

    Result rewrite() {
        Level main = new Level(true);
        GraphProto g = rewrite(source.model().getGraph(), new HashMap<>(), main, false);
        return new Result(prune(g), main.added);
    }

    /**
     * Whether {@code m} is the LM head: a tied head ({@code MatMul(A, Transpose(E))}), or a weight with as many
     * output features as an embedding table read by a Gather anywhere in the model has rows (the vocabulary).
     */
    boolean isHead(Match m) {
        if (m.kind().equals("MatMul(Transpose)")) {
            return true;
        }
        if (vocabularies == null) {
            vocabularies = new HashSet<>();
            collectVocabularies(source.model().getGraph(), new HashMap<>());
        }
        return vocabularies.contains(m.tensor().getDims(m.transposed() ? 0 : 1));
    }

    private void collectVocabularies(GraphProto graph, Map<String, TensorProto> outer) {
        Map<String, TensorProto> scope = new HashMap<>(outer);
        graph.getInitializerList().forEach(t -> scope.put(t.getName(), t));
        for (NodeProto n : graph.getNodeList()) {
            TensorProto table = n.getOpType().equals("Gather") && intAttr(n, "axis") == 0 ? scope.get(n.getInput(0)) : null;
            if (table != null && table.getDimsCount() == 2 && table.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                vocabularies.add(table.getDims(0));
            }
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getType() == AttributeProto.AttributeType.GRAPH) {
                    collectVocabularies(a.getG(), scope);
                }
            }
        }
    }

    /** Quantized nodes by kind ({@code MatMul}, {@code Gemm}, {@code MatMul(Transpose)}, {@code Gather}). */
    Map<String, Integer> counts() {
        return counts;
    }

    /** Weights left in float because of {@code --keep-float}. */
    List<String> keptFloat() {
        return keptFloat;
    }

    /**
     * The activations (first inputs) of the main graph's MatMuls and Gemms that would be quantized, as matched (the
     * calibration of int8-static observes these). Reads the model only.
     */
    Set<String> activations() {
        GraphProto graph = source.model().getGraph();
        Map<String, Scoped> scope = scope(graph, new HashMap<>(), new Level());
        Map<String, NodeProto> producers = producers(graph);
        Set<String> activations = new LinkedHashSet<>();
        for (NodeProto node : graph.getNodeList()) {
            Match m = match(node, scope, producers);
            if (m != null && !m.kind().equals("Gather")) {
                activations.add(node.getInput(0));
            }
        }
        return activations;
    }

    /**
     * The main graph's MatMuls and Gemms that would be quantized, by activation (first input), as matched. Reads the
     * model only.
     */
    Map<String, List<Match>> consumers() {
        GraphProto graph = source.model().getGraph();
        Map<String, Scoped> scope = scope(graph, new HashMap<>(), new Level());
        Map<String, NodeProto> producers = producers(graph);
        Map<String, List<Match>> consumers = new LinkedHashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            Match m = match(node, scope, producers);
            if (m != null && !m.kind().equals("Gather")) {
                consumers.computeIfAbsent(node.getInput(0), k -> new ArrayList<>()).add(m);
            }
        }
        return consumers;
    }

    private static Map<String, Scoped> scope(GraphProto graph, Map<String, Scoped> outer, Level level) {
        Map<String, Scoped> scope = new HashMap<>(outer);
        for (TensorProto t : graph.getInitializerList()) {
            scope.put(t.getName(), new Scoped(t, level));
        }
        return scope;
    }

    private static Map<String, NodeProto> producers(GraphProto graph) {
        Map<String, NodeProto> producers = new HashMap<>();
        for (NodeProto n : graph.getNodeList()) {
            n.getOutputList().forEach(o -> producers.put(o, n));
        }
        return producers;
    }

    /** With {@code holdAdded} (subgraphs), the graph takes the quantized initializers its level owns. */
    private GraphProto rewrite(GraphProto graph, Map<String, Scoped> outer, Level level, boolean holdAdded) {
        Map<String, Scoped> scope = scope(graph, outer, level);
        Map<String, NodeProto> producers = producers(graph);
        Set<String> names = new HashSet<>(scope.keySet());
        graph.getInputList().forEach(v -> names.add(v.getName()));
        names.addAll(producers.keySet());
        Map<String, ValueInfoProto> types = new HashMap<>();
        for (List<ValueInfoProto> l : List.of(graph.getInputList(), graph.getOutputList(), graph.getValueInfoList())) {
            l.forEach(v -> types.put(v.getName(), v));
        }
        Graph g = new Graph(level, names, types);
        List<NodeProto> nodes = new ArrayList<>();
        for (NodeProto node : graph.getNodeList()) {
            node = rewriteSubgraphs(node, scope);
            Match m = match(node, scope, producers);
            if (m == null || !quantizes(node, m)) {
                nodes.add(node);
                continue;
            }
            if (m.kind().equals("Gather")) {
                nodes.addAll(rewriteGather(node, m, g));
            } else if (m.bias() == null) {
                nodes.addAll(rewriteMatMul(node, m, g, node.getOutput(0)));
            } else {
                String y = node.getOutput(0);
                String product = g.unique(y + "_product");
                g.typedLike(product, y);
                nodes.addAll(rewriteMatMul(node, m, g, product));
                nodes.add(node(baseName(node) + "_bias", "Add", List.of(product, m.bias()), y));
            }
            counts.merge(m.kind(), 1, Integer::sum);
        }
        GraphProto.Builder b = graph.toBuilder().clearNode().addAllNode(nodes).addAllValueInfo(g.added.values());
        if (holdAdded) {
            b.addAllInitializer(level.added);
        }
        return b.build();
    }

    private NodeProto rewriteSubgraphs(NodeProto node, Map<String, Scoped> scope) {
        if (node.getAttributeList().stream().noneMatch(a -> a.getType() == AttributeProto.AttributeType.GRAPH)) {
            return node;
        }
        NodeProto.Builder nb = node.toBuilder();
        for (int i = 0; i < nb.getAttributeCount(); i++) {
            AttributeProto attr = nb.getAttribute(i);
            if (attr.getType() == AttributeProto.AttributeType.GRAPH) {
                nb.setAttribute(i, attr.toBuilder().setG(rewrite(attr.getG(), scope, new Level(), true)));
            }
        }
        return nb.build();
    }

    private Match match(NodeProto node, Map<String, Scoped> scope, Map<String, NodeProto> producers) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return null;
        }
        Match m = switch (node.getOpType()) {
            case "MatMul" -> node.getInputCount() != 2 ? null : matMul(node, scope, producers);
            case "Gemm" -> gemm(node, scope);
            case "Gather" -> embeddings && intAttr(node, "axis") == 0 && scope.containsKey(node.getInput(0))
                    ? new Match(scope.get(node.getInput(0)), false, null, "Gather") : null;
            default -> null;
        };
        if (m == null) {
            return null;
        }
        TensorProto w = m.tensor();
        if (w.getDataType() != TensorProto.DataType.FLOAT_VALUE || w.getDimsCount() != 2
                || w.getDims(m.transposed() || m.kind().equals("Gather") ? 1 : 0) < MIN_K) {
            return null;
        }
        if (keepFloat != null && (keepFloat.matcher(w.getName()).find() || keepFloat.matcher(node.getName()).find())) {
            keptFloat.add(w.getName());
            return null;
        }
        return m;
    }

    private Match matMul(NodeProto node, Map<String, Scoped> scope, Map<String, NodeProto> producers) {
        Scoped w = scope.get(node.getInput(1));
        if (w != null) {
            return new Match(w, false, null, "MatMul");
        }
        NodeProto t = producers.get(node.getInput(1));
        if (t == null || !t.getOpType().equals("Transpose") || t.getInputCount() != 1) {
            return null;
        }
        long[] perm = ints(t, "perm");
        if (perm != null && !(perm.length == 2 && perm[0] == 1 && perm[1] == 0)) {
            return null;
        }
        Scoped e = scope.get(t.getInput(0));
        if (e == null) {
            return null;
        }
        orphanable.add(t.getOutput(0));
        return new Match(e, true, null, "MatMul(Transpose)");
    }

    private Match gemm(NodeProto node, Map<String, Scoped> scope) {
        if (ints(node, "transA") != null && intAttr(node, "transA") != 0
                || floatAttr(node, "alpha", 1f) != 1f || floatAttr(node, "beta", 1f) != 1f) {
            return null;
        }
        Scoped w = scope.get(node.getInput(1));
        if (w == null) {
            return null;
        }
        String bias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? node.getInput(2) : null;
        return new Match(w, intAttr(node, "transB") == 1, bias, "Gemm");
    }

    /**
     * The names of {@code m}'s quantized initializers in graph {@code g}: {@code quantize} runs once per folder for
     * the weight's stored bytes and {@code layout}, {@code tensors} names its result for the graph that holds the
     * float weight, once per such graph.
     */
    <T> List<String> quantized(Match m, Graph g, String stem, String layout, Function<InitializerBytes, T> quantize,
                               Function<T, List<TensorProto>> tensors) {
        return g.hold(m, stem, () -> tensors.apply(weights.once(source, m.tensor(), layout, quantize)));
    }

    static ValueInfoProto typeOf(TensorProto t) {
        return GraphBuilder.tensorInfo(t.getName(), t.getDataType(),
                t.getDimsList().stream().mapToLong(Long::longValue).toArray());
    }

    /**
     * Drops the Transposes that fed only quantized weights, then the float initializers no node reads any more (graph
     * outputs and reads from subgraphs count).
     */
    private GraphProto prune(GraphProto main) {
        Set<String> reads = new HashSet<>();
        collectReads(main, reads);
        GraphProto g = prune(main, reads, false);
        reads.clear();
        collectReads(g, reads);
        return prune(g, reads, true);
    }

    private GraphProto prune(GraphProto g, Set<String> reads, boolean initializers) {
        GraphProto.Builder b = g.toBuilder().clearNode();
        for (NodeProto n : g.getNodeList()) {
            if (!initializers && n.getOutputCount() == 1 && orphanable.contains(n.getOutput(0))
                    && !reads.contains(n.getOutput(0))) {
                continue;
            }
            NodeProto.Builder nb = n.toBuilder();
            for (int i = 0; i < nb.getAttributeCount(); i++) {
                AttributeProto a = nb.getAttribute(i);
                if (a.getType() == AttributeProto.AttributeType.GRAPH) {
                    nb.setAttribute(i, a.toBuilder().setG(prune(a.getG(), reads, initializers)));
                }
            }
            b.addNode(nb);
        }
        if (initializers) {
            b.clearInitializer().clearValueInfo();
            g.getInitializerList().stream().filter(t -> reads.contains(t.getName())).forEach(b::addInitializer);
            // a static graph types every node output, read or not (an unused optional output too)
            Set<String> produced = new HashSet<>();
            g.getNodeList().forEach(n -> produced.addAll(n.getOutputList()));
            g.getValueInfoList().stream().filter(v -> reads.contains(v.getName()) || produced.contains(v.getName()))
                    .forEach(b::addValueInfo);
        }
        return b.build();
    }

    private static void collectReads(GraphProto g, Set<String> reads) {
        g.getOutputList().stream().map(ValueInfoProto::getName).forEach(reads::add);
        for (NodeProto n : g.getNodeList()) {
            reads.addAll(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getType() == AttributeProto.AttributeType.GRAPH) {
                    collectReads(a.getG(), reads);
                }
            }
        }
    }

    static NodeProto node(String name, String op, List<String> inputs, String output) {
        return NodeProto.newBuilder().setName(name).setOpType(op).addAllInput(inputs).addOutput(output).build();
    }

    /** A stored tensor under the name this model gives it (models of a folder may name one weight differently). */
    static TensorProto named(TensorProto t, String name) {
        return t.getName().equals(name) ? t : t.toBuilder().setName(name).build();
    }

    /** The name for nodes replacing {@code node}: its own, or its first output's when it has none. */
    static String baseName(NodeProto node) {
        return node.getName().isEmpty() ? node.getOutput(0) : node.getName();
    }

    private static long[] ints(NodeProto n, String name) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getIntsCount() > 0 ? a.getIntsList().stream().mapToLong(Long::longValue).toArray()
                        : new long[] {a.getI()};
            }
        }
        return null;
    }

    private static long intAttr(NodeProto n, String name) {
        long[] v = ints(n, name);
        return v == null ? 0 : v[0];
    }

    private static float floatAttr(NodeProto n, String name, float fallback) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getF();
            }
        }
        return fallback;
    }
}
