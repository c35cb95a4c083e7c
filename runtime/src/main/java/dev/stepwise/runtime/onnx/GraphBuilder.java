package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Accumulates one ONNX graph: nodes in topological order (the order they are added), initializers, inputs, outputs
 * and value_infos. It owns the value namespace, so every name it hands out is unique; names read like the ones
 * PyTorch's exporter writes ({@code /h.3/attn/MatMul_output_0}) through a scope stack ({@link #push}/{@link #pop}).
 */
public final class GraphBuilder {
    /** Producer written into every model. */
    public static final String PRODUCER = "stepwise";

    private final String graphName;
    private final int opset;
    private final Map<String, Integer> extraOpsets = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Deque<String> scopes = new ArrayDeque<>();

    private final List<NodeProto> nodes = new ArrayList<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final List<ValueInfoProto> inputs = new ArrayList<>();
    private final List<ValueInfoProto> outputs = new ArrayList<>();
    private final Map<String, ValueInfoProto> valueInfos = new LinkedHashMap<>();

    /** Every value and node name in use; ONNX requires both to be unique (values are SSA). */
    private final Set<String> names = new HashSet<>();
    /** Value name -> index of the node that produces it, for renaming an output in place. */
    private final Map<String, Integer> producers = new HashMap<>();
    /** Values read by at least one node. */
    private final Set<String> consumed = new HashSet<>();
    private final Set<String> inputNames = new HashSet<>();
    private final Set<String> outputNames = new HashSet<>();
    private final Set<String> initializerNames = new HashSet<>();

    public GraphBuilder(String graphName, int opset) {
        if (opset < 1) {
            throw new IllegalArgumentException("opset must be positive, got " + opset);
        }
        this.graphName = graphName;
        this.opset = opset;
    }

    /** Version of the default ("ai.onnx") operator set the graph is written for. */
    public int opset() {
        return opset;
    }

    /** Imports another operator set domain, e.g. {@code com.microsoft}. */
    public void importOpset(String domain, int version) {
        extraOpsets.put(domain, version);
    }

    public void putMetadata(String key, String value) {
        metadata.put(key, value);
    }

    // ---- scopes ----

    /** Enters a name scope: nodes added until the matching {@link #pop} are named {@code /outer/name/Op}. */
    public void push(String scope) {
        scopes.addLast(scope);
    }

    public void pop() {
        if (scopes.isEmpty()) {
            throw new IllegalStateException("pop without push");
        }
        scopes.removeLast();
    }

    /** {@code try (var s = graph.scope("h.3")) { ... }} */
    public Scope scope(String name) {
        push(name);
        return this::pop;
    }

    /** A pushed scope that pops itself. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** The current scope as a name prefix: "" at top level, {@code /h.3/attn} inside two scopes. */
    public String scopePrefix() {
        if (scopes.isEmpty()) {
            return "";
        }
        return "/" + String.join("/", scopes);
    }

    // ---- names ----

    public boolean isNameTaken(String name) {
        return names.contains(name);
    }

    /** Claims an exact name; fails when another value or node already has it. */
    public String reserveName(String name) {
        if (name == null || name.isEmpty()) {
            throw new StepwiseException("graph " + graphName + ": empty value name");
        }
        if (!names.add(name)) {
            throw new StepwiseException("graph " + graphName + ": the name '" + name + "' is already used");
        }
        return name;
    }

    /** Claims and returns {@code base} itself when free, else {@code base_1}, {@code base_2}, ... */
    public String uniqueName(String base) {
        String name = unusedName(base);
        names.add(name);
        return name;
    }

    /** Like {@link #uniqueName} without claiming it (for a name that {@link #addInitializer} will claim). */
    public String unusedName(String base) {
        String name = base;
        for (int i = 1; names.contains(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    // ---- content ----

    /**
     * Appends a node of the default domain. Its name comes from the scope and op type; its outputs are named
     * {@code <node>_output_<i>}. An empty input name stands for an omitted optional input.
     */
    public List<String> addNode(String opType, List<String> inputs, int outputCount, AttributeProto... attributes) {
        return addNode("", opType, inputs, outputCount, attributes);
    }

    /** A single-output node; returns the output's name. */
    public String addNode(String opType, List<String> inputs, AttributeProto... attributes) {
        return addNode(opType, inputs, 1, attributes).get(0);
    }

    public List<String> addNode(String domain, String opType, List<String> inputs, int outputCount,
                                AttributeProto... attributes) {
        // node names share the value namespace, which keeps both unique and readable
        String nodeName = uniqueName(scopePrefix() + "/" + opType);
        NodeProto.Builder node = NodeProto.newBuilder().setName(nodeName).setOpType(opType).setDomain(domain);
        for (String in : inputs) {
            if (!in.isEmpty() && !names.contains(in)) {
                throw new IllegalStateException(opType + " reads '" + in + "', which is not in the graph");
            }
            node.addInput(in);
            if (!in.isEmpty()) {
                consumed.add(in);
            }
        }
        List<String> outs = new ArrayList<>(outputCount);
        for (int i = 0; i < outputCount; i++) {
            String out = uniqueName(nodeName + "_output_" + i);
            node.addOutput(out);
            producers.put(out, nodes.size());
            outs.add(out);
        }
        for (AttributeProto a : attributes) {
            node.addAttribute(a);
        }
        nodes.add(node.build());
        return outs;
    }

    /** Adds an initializer; its name must be unique. */
    public void addInitializer(TensorProto tensor) {
        reserveName(tensor.getName());
        initializers.add(tensor);
        initializerNames.add(tensor.getName());
    }

    public void addInput(ValueInfoProto info) {
        reserveName(info.getName());
        inputs.add(info);
        inputNames.add(info.getName());
    }

    /** Declares a graph output; the value must already exist in the graph. */
    public void addOutput(ValueInfoProto info) {
        if (!names.contains(info.getName())) {
            throw new IllegalStateException("output '" + info.getName() + "' is not a value of the graph");
        }
        if (!outputNames.add(info.getName())) {
            throw new StepwiseException("graph " + graphName + ": output '" + info.getName() + "' declared twice");
        }
        outputs.add(info);
    }

    /** Records the type and shape of an intermediate value (written by {@link #build} when asked). */
    public void recordValueInfo(ValueInfoProto info) {
        valueInfos.put(info.getName(), info);
    }

    public boolean isConsumed(String value) {
        return consumed.contains(value);
    }

    public boolean isNodeOutput(String value) {
        return producers.containsKey(value);
    }

    public boolean isGraphInput(String value) {
        return inputNames.contains(value);
    }

    public boolean isGraphOutput(String value) {
        return outputNames.contains(value);
    }

    public boolean isInitializer(String value) {
        return initializerNames.contains(value);
    }

    /**
     * Renames a node output that no node reads yet (typically to give a graph output its contract name without an
     * Identity node). Its recorded value_info follows it.
     */
    /**
     * Renames a node output that later nodes already read, rewriting their inputs too. A graph output may also feed
     * other nodes, so a present key/value can carry its output name directly instead of being copied by an Identity.
     */
    public void renameConsumedNodeOutput(String oldName, String newName) {
        if (!producers.containsKey(oldName)) {
            throw new IllegalStateException("'" + oldName + "' is not produced by a node");
        }
        if (outputNames.contains(oldName)) {
            throw new IllegalStateException("'" + oldName + "' is already a graph output");
        }
        boolean wasConsumed = consumed.remove(oldName);
        renameNodeOutput(oldName, newName);
        if (wasConsumed) {
            for (int n = 0; n < nodes.size(); n++) {
                NodeProto node = nodes.get(n);
                if (node.getInputList().contains(oldName)) {
                    nodes.set(n, node.toBuilder().clearInput()
                            .addAllInput(renamed(node.getInputList(), oldName, newName)).build());
                }
            }
            consumed.add(newName);
        }
    }

    /** {@code names} with every {@code from} replaced by {@code to}. */
    private static List<String> renamed(List<String> names, String from, String to) {
        return names.stream().map(n -> n.equals(from) ? to : n).toList();
    }

    public void renameNodeOutput(String oldName, String newName) {
        Integer index = producers.get(oldName);
        if (index == null) {
            throw new IllegalStateException("'" + oldName + "' is not produced by a node");
        }
        if (consumed.contains(oldName) || outputNames.contains(oldName)) {
            throw new IllegalStateException("'" + oldName + "' is already in use and cannot be renamed");
        }
        reserveName(newName);
        NodeProto node = nodes.get(index);
        nodes.set(index, node.toBuilder().clearOutput()
                .addAllOutput(renamed(node.getOutputList(), oldName, newName)).build());
        producers.remove(oldName);
        producers.put(newName, index);
        names.remove(oldName);
        ValueInfoProto info = valueInfos.remove(oldName);
        if (info != null) {
            valueInfos.put(newName, info.toBuilder().setName(newName).build());
        }
    }

    public int nodeCount() {
        return nodes.size();
    }

    /** The nodes so far, in order (a read-only view). */
    public List<NodeProto> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    // ---- output ----

    /**
     * The graph. With {@code includeValueInfo}, every recorded value_info of an intermediate value is written
     * (graph inputs, outputs and initializers carry their types already).
     */
    public GraphProto buildGraph(boolean includeValueInfo) {
        GraphProto.Builder g = GraphProto.newBuilder().setName(graphName)
                .addAllNode(nodes).addAllInitializer(initializers).addAllInput(inputs).addAllOutput(outputs);
        if (includeValueInfo) {
            for (ValueInfoProto info : valueInfos.values()) {
                String n = info.getName();
                if (producers.containsKey(n) && !outputNames.contains(n)) {
                    g.addValueInfo(info);
                }
            }
        }
        return g.build();
    }

    public ModelProto build(boolean includeValueInfo) {
        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(irVersion(opset))
                .setProducerName(PRODUCER)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setGraph(buildGraph(includeValueInfo));
        extraOpsets.forEach((domain, version) ->
                m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(version)));
        metadata.forEach((k, v) -> m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return m.build();
    }

    /** The IR version released together with an opset, so older runtimes still load the file. */
    static long irVersion(int opset) {
        if (opset <= 14) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        if (opset <= 20) {
            return 9;
        }
        if (opset <= 22) {
            return 10;
        }
        return 11;
    }

    // ---- value info helpers ----

    /**
     * A tensor ValueInfoProto. Each dim is a {@link Number} (fixed), a {@link String} (dim_param) or null (unknown,
     * written as a dimension with neither field set).
     */
    public static ValueInfoProto tensorInfo(String name, int elemType, List<?> dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof Number n) {
                dim.setDimValue(n.longValue());
            } else if (d instanceof String s) {
                dim.setDimParam(s);
            } else if (d != null) {
                throw new IllegalArgumentException(name + ": a dim must be a number or a name, got " + d);
            }
            shape.addDim(dim);
        }
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape)))
                .build();
    }

    /** A tensor ValueInfoProto with a fully known shape. */
    public static ValueInfoProto tensorInfo(String name, int elemType, long[] dims) {
        List<Object> list = new ArrayList<>(dims.length);
        for (long d : dims) {
            list.add(d);
        }
        return tensorInfo(name, elemType, list);
    }
}
