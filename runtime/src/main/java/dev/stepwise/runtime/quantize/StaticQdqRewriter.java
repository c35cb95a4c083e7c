package dev.stepwise.runtime.quantize;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
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
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Rewrites every MatMul and Gemm whose weight is a 2-D float initializer into the QDQ form of ONNX's opset 13, with
 * activation ranges from calibration:
 * <pre>
 * A → QuantizeLinear(A_scale, A_zero_point) → DequantizeLinear → ┐        (uint8, one pair per activation)
 * W_quantized (int8) → DequantizeLinear(W_scale, W_zero_point, axis) ─→ MatMul / Gemm → Y (float)
 * </pre>
 * Names are those of ONNX Runtime's QDQ quantizer ({@code A_QuantizeLinear_Output}, {@code A_DequantizeLinear_Output},
 * {@code A_scale}, {@code W_quantized}, ...), so the same tensor gets the same names and, with one calibration for a
 * whole folder, the same scale in every graph that holds it (every step graph of an unrolled folder).
 *
 * <p>Weights are int8 symmetric with one scale per output channel: {@code axis} 1 of a MatMul's [K, N], {@code axis}
 * 0 of a transB Gemm's [N, K], which keeps its layout (ONNX Runtime's choice for both); a tied LM head {@code
 * MatMul(A, Transpose(E))} reads E transposed to [K, N] and drops the Transpose. Zero points are int8 vectors of 0,
 * the scale's shape, as DequantizeLinear wants. Per-channel scales and zero points are stored in the weights file
 * beside the int8 weight (once for every graph that reads it); activation scales are scalars in the graph. Y stays
 * float: no QuantizeLinear follows the MatMul (ONNX Runtime's {@code OpTypesToExcludeOutputQuantization} for MatMul
 * and Gemm), so ONNX Runtime fuses the group into {@code MatMulIntegerToFloat} and the logits are not rounded to 8
 * bits; a Gemm bias stays float. A MatMul whose activation was never observed in calibration (a graph the calibration
 * could not run) stays float, and is reported.
 */
final class StaticQdqRewriter {
    private final OnnxModelReader source;
    private final QuantizedWeights weights;
    private final SharedExternalData shared;
    private final ActivationRanges ranges;
    private final Pattern keepFloat;
    private final Map<String, Integer> counts = new HashMap<>();
    private final Set<String> uncalibrated = new LinkedHashSet<>();
    private final Set<String> orphanable = new HashSet<>();
    /** Per-channel scales and zero points already stored, by quantized weight location. */
    private final Map<String, TensorProto[]> storedScales;

    StaticQdqRewriter(OnnxModelReader source, QuantizedWeights weights, SharedExternalData shared,
                      ActivationRanges ranges, Pattern keepFloat, Map<String, TensorProto[]> storedScales) {
        this.source = source;
        this.weights = weights;
        this.shared = shared;
        this.ranges = ranges;
        this.keepFloat = keepFloat;
        this.storedScales = storedScales;
    }

    /** The first input of every MatMul and Gemm of {@code graph} (main graph only) that this rewriter quantizes. */
    static Set<String> activations(GraphProto graph) {
        Map<String, TensorProto> inits = new HashMap<>();
        graph.getInitializerList().forEach(t -> inits.put(t.getName(), t));
        Map<String, NodeProto> producers = new HashMap<>();
        graph.getNodeList().forEach(n -> n.getOutputList().forEach(o -> producers.put(o, n)));
        Set<String> names = new LinkedHashSet<>();
        for (NodeProto n : graph.getNodeList()) {
            Map<String, Scoped> scope = new HashMap<>();
            inits.forEach((k, v) -> scope.put(k, new Scoped(v, null)));
            if (match(n, scope, producers, null) != null) {
                names.add(n.getInput(0));
            }
        }
        return names;
    }

    private static final class Level {
        final List<TensorProto> added = new ArrayList<>();
        final Map<String, TensorProto> addedByName = new HashMap<>();
    }

    private record Scoped(TensorProto tensor, Level owner) {
    }

    private record Match(Scoped weight, boolean transposed, boolean rows, String kind) {
    }

    DynamicInt8Rewriter.Result rewrite() {
        Level main = new Level();
        GraphProto g = rewrite(source.model().getGraph(), new HashMap<>(), main, false);
        return new DynamicInt8Rewriter.Result(prune(g), main.added);
    }

    /** Quantized nodes by kind ({@code MatMul}, {@code Gemm}, {@code MatMul(Transpose)}). */
    Map<String, Integer> counts() {
        return counts;
    }

    /** Activations of matched MatMuls that calibration never saw (those MatMuls stayed float). */
    Set<String> uncalibrated() {
        return uncalibrated;
    }

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
        Map<String, String> dequantizedActivations = new HashMap<>();
        Map<String, String> dequantizedWeights = new HashMap<>();
        List<TensorProto> activationParams = new ArrayList<>();
        Map<String, ValueInfoProto> outerTypes = new LinkedHashMap<>();
        List<NodeProto> nodes = new ArrayList<>();
        for (NodeProto node : graph.getNodeList()) {
            node = rewriteSubgraphs(node, scope);
            Match m = match(node, scope, producers, keepFloat);
            if (m == null) {
                nodes.add(node);
                continue;
            }
            String a = node.getInput(0);
            if (!ranges.has(a)) {
                uncalibrated.add(a);
                nodes.add(node);
                continue;
            }
            String aDq = dequantizedActivations.get(a);
            if (aDq == null) {
                ActivationQuant q = ranges.quant(a);
                String scale = unique(a + "_scale", names);
                String zp = unique(a + "_zero_point", names);
                activationParams.add(raw(scale, TensorProto.DataType.FLOAT_VALUE, new long[0],
                        ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, q.scale())));
                activationParams.add(raw(zp, TensorProto.DataType.UINT8_VALUE, new long[0],
                        ByteBuffer.wrap(new byte[] {(byte) q.zeroPoint()})));
                String aQ = unique(a + "_QuantizeLinear_Output", names);
                aDq = unique(a + "_DequantizeLinear_Output", names);
                nodes.add(node(unique(a + "_QuantizeLinear", names), "QuantizeLinear", List.of(a, scale, zp), aQ));
                nodes.add(node(unique(a + "_DequantizeLinear", names), "DequantizeLinear", List.of(aQ, scale, zp), aDq));
                dequantizedActivations.put(a, aDq);
            }
            String[] w = quantizedWeight(m);
            if (m.weight().owner() != level) {
                for (String n : w) {
                    outerTypes.computeIfAbsent(n, k -> typeOf(m.weight().owner().addedByName.get(k)));
                }
            }
            String wDq = dequantizedWeights.get(w[0]);
            if (wDq == null) {
                wDq = unique(w[0].replaceFirst("_quantized$", "") + "_DequantizeLinear_Output", names);
                nodes.add(node(unique(w[0] + "_DequantizeLinear", names), "DequantizeLinear", List.of(w[0], w[1], w[2]),
                        wDq).toBuilder().addAttribute(Attributes.of("axis", m.rows() ? 0L : 1L)).build());
                dequantizedWeights.put(w[0], wDq);
            }
            NodeProto.Builder q = node.toBuilder().setInput(0, aDq).setInput(1, wDq);
            if (m.kind().equals("MatMul(Transpose)")) {
                q.clearInput().addInput(aDq).addInput(wDq);
            }
            nodes.add(q.build());
            counts.merge(m.kind(), 1, Integer::sum);
        }
        GraphProto.Builder b = graph.toBuilder().clearNode().addAllNode(nodes).addAllValueInfo(outerTypes.values())
                .addAllInitializer(activationParams);
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

    private static Match match(NodeProto node, Map<String, Scoped> scope, Map<String, NodeProto> producers,
                               Pattern keepFloat) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return null;
        }
        Match m = switch (node.getOpType()) {
            case "MatMul" -> node.getInputCount() != 2 ? null : matMul(node, scope, producers);
            case "Gemm" -> gemm(node, scope);
            default -> null;
        };
        if (m == null) {
            return null;
        }
        TensorProto w = m.weight().tensor();
        if (w.getDataType() != TensorProto.DataType.FLOAT_VALUE || w.getDimsCount() != 2
                || w.getDims(m.transposed() || m.rows() ? 1 : 0) < DynamicInt8Rewriter.MIN_K) {
            return null;
        }
        if (keepFloat != null && (keepFloat.matcher(w.getName()).find() || keepFloat.matcher(node.getName()).find())) {
            return null;
        }
        return m;
    }

    private static Match matMul(NodeProto node, Map<String, Scoped> scope, Map<String, NodeProto> producers) {
        Scoped w = scope.get(node.getInput(1));
        if (w != null) {
            return new Match(w, false, false, "MatMul");
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
        return e == null ? null : new Match(e, true, false, "MatMul(Transpose)");
    }

    private static Match gemm(NodeProto node, Map<String, Scoped> scope) {
        long[] transA = ints(node, "transA");
        if (transA != null && transA[0] != 0 || floatAttr(node, "alpha") != 1f || floatAttr(node, "beta") != 1f) {
            return null;
        }
        Scoped w = scope.get(node.getInput(1));
        if (w == null) {
            return null;
        }
        long[] transB = ints(node, "transB");
        return new Match(w, false, transB != null && transB[0] == 1, "Gemm");
    }

    /** Names of W_quantized, W_scale, W_zero_point, added to the graph that holds the float weight (once per graph). */
    private String[] quantizedWeight(Match m) {
        TensorProto w = m.weight().tensor();
        String stem = w.getName() + (m.transposed() ? "_T" : "");
        String[] names = {stem + "_quantized", stem + "_scale", stem + "_zero_point"};
        Level owner = m.weight().owner();
        if (!owner.addedByName.containsKey(names[0])) {
            WeightQuantizer.Quantized q = m.rows() ? weights.quantizeOutputRows(source, w, names[0])
                    : weights.quantize(source, w, m.transposed(), names[0]);
            TensorProto[] scales = scales(q);
            for (TensorProto t : List.of(q.weight(), scales[0].toBuilder().setName(names[1]).build(),
                    scales[1].toBuilder().setName(names[2]).build())) {
                owner.added.add(t);
                owner.addedByName.put(t.getName(), t);
            }
        }
        if (m.transposed()) {
            orphanable.add(m.weight().tensor().getName());
        }
        return names;
    }

    /** The [N] float scales and [N] int8 zeros of a quantized weight, stored in the weights file once. */
    private TensorProto[] scales(WeightQuantizer.Quantized q) {
        String key = q.weight().getExternalDataList().toString();
        TensorProto[] known = storedScales.get(key);
        if (known != null) {
            return known;
        }
        int n = q.scales().length;
        ByteBuffer s = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : q.scales()) {
            s.putFloat(v);
        }
        s.flip();
        String name = q.weight().getName();
        TensorProto scale = shared.storeNew(TensorProto.newBuilder().setName(name + "_scale")
                .setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(n).build(), 4L * n,
                start -> shared.writeAt(s, start, name + "_scale"));
        ByteBuffer z = ByteBuffer.allocate(n);
        TensorProto zero = shared.storeNew(TensorProto.newBuilder().setName(name + "_zero_point")
                .setDataType(TensorProto.DataType.INT8_VALUE).addDims(n).build(), n,
                start -> shared.writeAt(z, start, name + "_zero_point"));
        TensorProto[] stored = {scale, zero};
        storedScales.put(key, stored);
        return stored;
    }

    private static ValueInfoProto typeOf(TensorProto t) {
        return GraphBuilder.tensorInfo(t.getName(), t.getDataType(),
                t.getDimsList().stream().mapToLong(Long::longValue).toArray());
    }

    private static TensorProto raw(String name, int type, long[] dims, ByteBuffer bytes) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(ByteString.copyFrom(bytes.duplicate().rewind()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** Drops the Transposes that fed only quantized weights, then the float initializers nothing reads any more. */
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
            if (!initializers && n.getOpType().equals("Transpose") && n.getInputCount() == 1
                    && orphanable.contains(n.getInput(0)) && n.getOutputCount() == 1 && !reads.contains(n.getOutput(0))) {
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
            g.getValueInfoList().stream().filter(v -> reads.contains(v.getName()) || producedIn(g, v.getName()))
                    .forEach(b::addValueInfo);
        }
        return b.build();
    }

    private static boolean producedIn(GraphProto g, String name) {
        for (NodeProto n : g.getNodeList()) {
            if (n.getOutputList().contains(name)) {
                return true;
            }
        }
        return false;
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

    private static float floatAttr(NodeProto n, String name) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getF();
            }
        }
        return 1f;
    }
}
