package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One static graph as a fusion sees it: the static type of every value, the value of small constants, who produces
 * and who reads each value, and the rewrites decided so far.
 *
 * <p>A rewrite replaces one node by nodes that compute the same outputs (same names, same values, within float
 * rounding); it never changes what an existing name means. Nodes a rewrite leaves unread are dropped afterwards by
 * {@link DeadCodeElimination}. Because names keep their meaning, rewrites decided in one walk cannot break each other;
 * a node is replaced at most once per walk.
 */
final class FusionGraph {
    static final Set<String> RESHAPES = Set.of("Reshape", "Flatten", "Squeeze", "Unsqueeze");
    static final Set<Integer> FLOATS = Set.of(TensorProto.DataType.FLOAT_VALUE, TensorProto.DataType.FLOAT16_VALUE,
            TensorProto.DataType.DOUBLE_VALUE, TensorProto.DataType.BFLOAT16_VALUE);

    final ModelProto model;
    final GraphProto graph;
    final int opset;
    final Path modelDir;
    private final GraphInference inference;
    private final Scope scope;
    private final Map<String, NodeProto> producers = new HashMap<>();
    private final Map<String, List<NodeProto>> consumers = new HashMap<>();
    private final Set<String> graphOutputs;
    private final Set<String> names;
    private final Map<NodeProto, List<NodeProto>> replacements = new IdentityHashMap<>();
    private final List<TensorProto> initializers = new ArrayList<>();

    FusionGraph(ModelProto model, Path modelDir) {
        this.model = TopologicalSort.apply(model);
        this.graph = this.model.getGraph();
        this.modelDir = modelDir;
        this.inference = GraphInference.forModel(this.model, modelDir);
        this.opset = GraphInference.defaultOpset(this.model);
        this.scope = inference.run(graph);
        this.graphOutputs = GraphEdits.names(graph.getOutputList());
        this.names = GraphEdits.definedNames(graph);
        for (NodeProto n : graph.getNodeList()) {
            names.add(n.getName());
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    producers.put(o, n);
                }
            }
            for (String in : GraphEdits.reads(n)) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
            }
        }
    }

    List<NodeProto> nodes() {
        return graph.getNodeList();
    }

    // ---- what the graph knows ----

    TensorType type(String value) {
        return value.isEmpty() ? null : scope.type(value);
    }

    /** The node that produces {@code value}, or null for graph inputs and initializers. */
    NodeProto producer(String value) {
        return producers.get(value);
    }

    /** The producer when it is a default-domain node of one of {@code ops}, else null. */
    NodeProto producer(String value, Set<String> ops) {
        NodeProto p = producers.get(value);
        return p != null && isStandard(p) && ops.contains(p.getOpType()) ? p : null;
    }

    NodeProto producer(String value, String op) {
        return producer(value, Set.of(op));
    }

    /** Every node that reads {@code value} (each once, in graph order). */
    List<NodeProto> consumers(String value) {
        return consumers.getOrDefault(value, List.of());
    }

    boolean isGraphOutput(String value) {
        return graphOutputs.contains(value);
    }

    /** Whether {@code value} is read by {@code reader} alone and is not a graph output: a fusion may swallow it. */
    boolean onlyFeeds(String value, NodeProto reader) {
        List<NodeProto> c = consumers(value);
        return !isGraphOutput(value) && c.size() == 1 && c.get(0) == reader;
    }

    /** Whether every reader of {@code value} is in {@code readers} and it is not a graph output. */
    boolean onlyFeeds(String value, Set<NodeProto> readers) {
        if (isGraphOutput(value)) {
            return false;
        }
        for (NodeProto c : consumers(value)) {
            if (!readers.contains(c)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The value of a small constant (an initializer or something folding computed), or null. Never reads a tensor
     * larger than the folding caps.
     */
    ConstTensor constant(String value) {
        return value.isEmpty() ? null : inference.value(scope, value);
    }

    /** The element of a one-element floating constant, or null. */
    Double scalar(String value) {
        TensorType t = type(value);
        if (t == null || t.elementCount() != 1 || !FLOATS.contains(t.elemType())) {
            return null;
        }
        ConstTensor c = constant(value);
        return c == null ? null : c.getDouble(0);
    }

    /** The constant integers of an int64 input, or null. */
    long[] longs(String value) {
        TensorType t = type(value);
        if (t == null || t.elementCount() > 64) {
            return null;
        }
        ConstTensor c = constant(value);
        return c == null || c.isFloating() ? null : c.toLongs();
    }

    boolean isInitializer(String value) {
        Scope s = scope.owner(value);
        return s != null && s.initializers.containsKey(value);
    }

    static boolean isStandard(NodeProto n) {
        return n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
    }

    static boolean is(NodeProto n, String op) {
        return n != null && isStandard(n) && n.getOpType().equals(op);
    }

    // ---- edits ----

    boolean isReplaced(NodeProto n) {
        return replacements.containsKey(n);
    }

    /** Replaces {@code old} by {@code with}, which must define the outputs of {@code old} that are read. */
    void replace(NodeProto old, List<NodeProto> with) {
        if (replacements.containsKey(old)) {
            throw new IllegalStateException(NodeContext.describe(old) + " is replaced twice");
        }
        replacements.put(old, List.copyOf(with));
    }

    void replace(NodeProto old, NodeProto... with) {
        replace(old, List.of(with));
    }

    int rewrites() {
        return replacements.size();
    }

    /** A value or node name not used anywhere in the graph yet, claimed. */
    String fresh(String base) {
        String name = base;
        for (int i = 1; names.contains(name); i++) {
            name = base + "_" + i;
        }
        names.add(name);
        return name;
    }

    /** Adds a small constant as an initializer under a fresh name and returns the name. */
    String addConstant(String base, ConstTensor value) {
        String name = fresh(base);
        initializers.add(value.toProto(name));
        return name;
    }

    /** An int64 vector constant (a Reshape target, Squeeze axes, ...). */
    String addLongs(String base, long... values) {
        return addConstant(base, ConstTensor.vector(values));
    }

    /** A default-domain node named after {@code anchor} with a fresh name. */
    NodeProto node(NodeProto anchor, String op, List<String> inputs, List<String> outputs, AttributeProto... attrs) {
        String base = (anchor.getName().isEmpty() ? anchor.getOutput(0) : anchor.getName()) + "/" + op;
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(fresh(base)).addAllInput(inputs)
                .addAllOutput(outputs);
        for (AttributeProto a : attrs) {
            b.addAttribute(a);
        }
        return b.build();
    }

    NodeProto node(NodeProto anchor, String op, List<String> inputs, String output, AttributeProto... attrs) {
        return node(anchor, op, inputs, List.of(output), attrs);
    }

    /** {@code Reshape(input) -> output} with a constant target of fixed dims (no 0 or -1 in it). */
    NodeProto reshape(NodeProto anchor, String input, long[] dims, String output) {
        String shape = addLongs(output + "/shape", dims);
        return node(anchor, "Reshape", List.of(input, shape), output);
    }

    NodeProto identity(NodeProto anchor, String input, String output) {
        return node(anchor, "Identity", List.of(input), output);
    }

    /** Axes of Squeeze/Unsqueeze/Reduce* from the input (opset-13 style) or the attribute; null when not constant. */
    long[] axes(NodeProto n, int inputIndex) {
        if (n.getInputCount() > inputIndex && !n.getInput(inputIndex).isEmpty()) {
            return longs(n.getInput(inputIndex));
        }
        return Attrs.getInts(n, "axes");
    }

    /** Whether a Squeeze/Unsqueeze/Reduce* node names its axes (as an input or an attribute). */
    static boolean hasAxes(NodeProto n, int inputIndex) {
        return (n.getInputCount() > inputIndex && !n.getInput(inputIndex).isEmpty()) || Attrs.has(n, "axes");
    }

    /** Squeeze/Unsqueeze with the given axes: an input from opset 13 on, an attribute before. */
    NodeProto withAxes(NodeProto anchor, String op, String input, long[] axes, String output) {
        if (opset >= 13) {
            return node(anchor, op, List.of(input, addLongs(output + "/axes", axes)), output);
        }
        return node(anchor, op, List.of(input), output, Attributes.ints("axes", axes));
    }

    /** The graph with every rewrite applied, sorted; the model itself when nothing was rewritten. */
    ModelProto build() {
        if (replacements.isEmpty()) {
            return model;
        }
        GraphProto.Builder b = graph.toBuilder().clearNode();
        for (NodeProto n : graph.getNodeList()) {
            List<NodeProto> r = replacements.get(n);
            if (r == null) {
                b.addNode(n);
            } else {
                b.addAllNode(r);
            }
        }
        b.addAllInitializer(initializers);
        // value_info of values whose producer changed stays valid: names keep their meaning
        return model.toBuilder().setGraph(TopologicalSort.apply(b.build())).build();
    }
}
