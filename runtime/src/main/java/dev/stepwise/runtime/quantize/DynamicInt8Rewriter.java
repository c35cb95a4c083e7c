package dev.stepwise.runtime.quantize;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Rewrites every MatMul and Gemm of a model whose weight is a 2-D float initializer into ONNX Runtime's dynamic int8
 * pattern, in the main graph and in every subgraph (the decoder inside a Loop body or a BeamSearch op reads the main
 * graph's weights from the outer scope):
 * <pre>
 * DynamicQuantizeLinear(A) → A_q, A_scale, A_zp          (one per activation: q, k and v projections share it)
 * MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast(float) → Mul(·, A_scale · W_scale)   (+ Add(C) for a Gemm bias)
 * </pre>
 * Covered: {@code MatMul(A, W)}; {@code Gemm(A, W, C)} with transA 0, alpha 1, beta 1 (transB transposes W while it
 * is quantized, so B is [K, N] as MatMulInteger wants); {@code MatMul(A, Transpose(E))} (a tied LM head reading the
 * embedding). Weights whose K is below {@link #MIN_K} stay float (a K = 1 outer product, such as rotary frequencies,
 * has nothing to gain and its activation range would swamp it), as do weights matching {@code keepFloat}. A float
 * initializer no node reads afterwards is dropped; one still read (a tied embedding's Gather) stays.
 *
 * <p>ONNX Runtime's {@code quantize_dynamic} leaves Gemm in float (it is not in its IntegerOps registry), so it keeps
 * the LM head of a Stepwise export, often the largest matrix, in fp32; here it is quantized too.
 */
final class DynamicInt8Rewriter {
    static final int MIN_K = 16;

    private final OnnxModelReader source;
    private final QuantizedWeights weights;
    private final Pattern keepFloat;
    private final boolean embeddings;
    private final Map<String, Integer> counts = new HashMap<>();
    private final List<String> keptFloat = new ArrayList<>();
    private final Set<String> orphanable = new HashSet<>();

    DynamicInt8Rewriter(OnnxModelReader source, QuantizedWeights weights, Pattern keepFloat, boolean embeddings) {
        this.source = source;
        this.weights = weights;
        this.keepFloat = keepFloat;
        this.embeddings = embeddings;
    }

    /** A graph in the tree, with the quantized initializers it has to hold. */
    private static final class Level {
        final List<TensorProto> added = new ArrayList<>();
        final Map<String, TensorProto> addedByName = new HashMap<>();
    }

    /** An initializer in scope and the graph that holds it. */
    private record Scoped(TensorProto tensor, Level owner) {
    }

    /** The rewritten main graph, without the new main-graph initializers, which {@link #mainInitializers} holds. */
    record Result(GraphProto graph, List<TensorProto> mainInitializers) {
    }

    Result rewrite() {
        Level main = new Level();
        GraphProto g = rewrite(source.model().getGraph(), new HashMap<>(), main, false);
        return new Result(prune(g), main.added);
    }

    /** Quantized MatMuls by kind ({@code MatMul}, {@code Gemm}, {@code MatMul(Transpose)}). */
    Map<String, Integer> counts() {
        return counts;
    }

    /** Weights left in float because of {@code --keep-float}. */
    List<String> keptFloat() {
        return keptFloat;
    }

    /** With {@code holdAdded} (subgraphs), the graph takes the quantized initializers its level owns. */
    private GraphProto rewrite(GraphProto graph, Map<String, Scoped> outer, Level level, boolean holdAdded) {
        Map<String, Scoped> scope = new HashMap<>(outer);
        for (TensorProto t : graph.getInitializerList()) {
            scope.put(t.getName(), new Scoped(t, level));
        }
        Map<String, NodeProto> producers = new HashMap<>();
        Set<String> names = new HashSet<>(scope.keySet());
        graph.getInputList().forEach(v -> names.add(v.getName()));
        for (NodeProto n : graph.getNodeList()) {
            n.getOutputList().forEach(o -> {
                producers.put(o, n);
                names.add(o);
            });
        }
        Map<String, String[]> quantizedActivations = new HashMap<>();
        List<NodeProto> nodes = new ArrayList<>();
        // ONNX Runtime types an outer-scope value a subgraph reads from the subgraph's value_info
        Map<String, ValueInfoProto> outerTypes = new java.util.LinkedHashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            node = rewriteSubgraphs(node, scope);
            Match m = match(node, scope, producers);
            if (m != null && m.kind().equals("Gather")) {
                nodes.addAll(gather(node, m, level, outerTypes, names));
                counts.merge(m.kind(), 1, Integer::sum);
                continue;
            }
            if (m == null) {
                nodes.add(node);
                continue;
            }
            String a = node.getInput(0);
            String[] aq = quantizedActivations.get(a);
            if (aq == null) {
                aq = new String[] {unique(a + "_quantized", names), unique(a + "_scale", names),
                    unique(a + "_zero_point", names)};
                nodes.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear")
                        .setName(unique(a + "_DynamicQuantizeLinear", names)).addInput(a)
                        .addOutput(aq[0]).addOutput(aq[1]).addOutput(aq[2]).build());
                quantizedActivations.put(a, aq);
            }
            String[] w = quantizedWeight(m);
            if (m.weight().owner() != level) {
                for (String n : w) {
                    outerTypes.computeIfAbsent(n, k -> typeOf(m.weight().owner().addedByName.get(k)));
                }
            }
            String y = node.getOutput(0);
            String base = node.getName().isEmpty() ? y : node.getName();
            String integer = unique(y + "_MatMulInteger", names);
            String cast = unique(y + "_cast", names);
            String scales = unique(y + "_scales", names);
            boolean bias = m.bias() != null;
            String product = bias ? unique(y + "_scaled", names) : y;
            nodes.add(node(base + "_MatMulInteger", "MatMulInteger", List.of(aq[0], w[0], aq[2], w[2]), integer));
            nodes.add(node(base + "_cast", "Cast", List.of(integer), cast).toBuilder()
                    .addAttribute(Attributes.of("to", (long) TensorProto.DataType.FLOAT_VALUE)).build());
            nodes.add(node(base + "_scales", "Mul", List.of(aq[1], w[1]), scales));
            nodes.add(node(base + "_scaled", "Mul", List.of(cast, scales), product));
            if (bias) {
                nodes.add(node(base + "_bias", "Add", List.of(product, m.bias()), y));
            }
            counts.merge(m.kind(), 1, Integer::sum);
        }
        GraphProto.Builder b = graph.toBuilder().clearNode().addAllNode(nodes).addAllValueInfo(outerTypes.values());
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

    /** A MatMul or Gemm to quantize: its weight, whether it is stored [N, K], and the Gemm bias if any. */
    private record Match(Scoped weight, boolean transposed, String bias, String kind) {
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
        TensorProto w = m.weight().tensor();
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
     * {@code Gather(E, ids)} as {@code Cast(Gather(E_q, ids)) · E_scale}: int8 rows and one scale per hidden column
     * ({@code [H]}, broadcast over the gathered rows; embedding ranges differ by hidden dimension far more than by
     * token, and a per-token scale would cost 4 bytes per vocabulary entry). Only the rows used are dequantized, where
     * a DequantizeLinear in front of the Gather (as in Xenova's files) widens the whole table on every run.
     */
    private List<NodeProto> gather(NodeProto node, Match m, Level level, Map<String, ValueInfoProto> outerTypes,
                                   Set<String> names) {
        TensorProto e = m.weight().tensor();
        String[] w = {e.getName() + "_rows_quantized", e.getName() + "_rows_scale"};
        Level owner = m.weight().owner();
        if (!owner.addedByName.containsKey(w[0])) {
            WeightQuantizer.Quantized q = weights.quantizeRows(source, e, w[0]);
            for (TensorProto t : List.of(q.weight(), floats(w[1], q.scales()))) {
                owner.added.add(t);
                owner.addedByName.put(t.getName(), t);
            }
        }
        if (owner != level) {
            for (String n : w) {
                outerTypes.computeIfAbsent(n, k -> typeOf(owner.addedByName.get(k)));
            }
        }
        String ids = node.getInput(1);
        String y = node.getOutput(0);
        String base = node.getName().isEmpty() ? y : node.getName();
        String rows = unique(y + "_rows", names);
        String cast = unique(y + "_cast", names);
        return List.of(node(base + "_rows", "Gather", List.of(w[0], ids), rows),
                node(base + "_cast", "Cast", List.of(rows), cast).toBuilder()
                        .addAttribute(Attributes.of("to", (long) TensorProto.DataType.FLOAT_VALUE)).build(),
                node(base + "_dequantized", "Mul", List.of(cast, w[1]), y));
    }

    /** Names of W_q, W_scale, W_zp, added to the graph that holds the float weight (once per graph). */
    private String[] quantizedWeight(Match m) {
        TensorProto w = m.weight().tensor();
        String stem = w.getName() + (m.transposed() ? "_T" : "");
        String[] names = {stem + "_quantized", stem + "_scale", stem + "_zero_point"};
        Level owner = m.weight().owner();
        if (!owner.addedByName.containsKey(names[0])) {
            WeightQuantizer.Quantized q = weights.quantize(source, w, m.transposed(), names[0]);
            for (TensorProto t : List.of(q.weight(), floats(names[1], q.scales()),
                    zeroPoints(names[2], q.zeroPoints(), weights.scheme().elemType()))) {
                owner.added.add(t);
                owner.addedByName.put(t.getName(), t);
            }
        }
        return names;
    }

    private static ValueInfoProto typeOf(TensorProto t) {
        return GraphBuilder.tensorInfo(t.getName(), t.getDataType(),
                t.getDimsList().stream().mapToLong(Long::longValue).toArray());
    }

    private static TensorProto floats(String name, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return raw(name, TensorProto.DataType.FLOAT_VALUE, values.length, b.flip());
    }

    /** One zero point per column; a scalar 0 for symmetric weights (MatMulInteger takes either). */
    private static TensorProto zeroPoints(String name, int[] values, int elemType) {
        if (java.util.Arrays.stream(values).allMatch(z -> z == 0)) {
            values = new int[1];
        }
        ByteBuffer b = ByteBuffer.allocate(values.length);
        for (int v : values) {
            b.put((byte) v);
        }
        return raw(name, elemType, values.length, b.flip());
    }

    /** A scalar for one value (per tensor), else a vector of one value per output column. */
    private static TensorProto raw(String name, int type, int count, ByteBuffer bytes) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(ByteString.copyFrom(bytes));
        if (count > 1) {
            t.addDims(count);
        }
        return t.build();
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
            g.getValueInfoList().stream().filter(v -> reads.contains(v.getName())).forEach(b::addValueInfo);
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

    private static NodeProto node(String name, String op, List<String> inputs, String output) {
        return NodeProto.newBuilder().setName(name).setOpType(op).addAllInput(inputs).addOutput(output).build();
    }

    private static String unique(String name, Set<String> names) {
        String n = name;
        for (int i = 1; !names.add(n); i++) {
            n = name + "_" + i;
        }
        return n;
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
