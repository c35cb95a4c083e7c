package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Merges nodes that compute the same thing: same op, domain and attributes, reading the same values. Small
 * initializers with equal contents count as the same value (a foreign export often writes the constant 1.0 a dozen
 * times), so do outputs of nodes already merged. The later node becomes an Identity of the earlier one's outputs.
 * Exact. Nodes with subgraphs, random ops and nodes that write a graph output are left alone.
 */
final class CommonSubexpressions {
    /** Ops whose outputs are drawn at random (any domain: onnxruntime's dropout variants too). */
    private static final Set<String> RANDOM = Set.of("RandomNormal", "RandomUniform", "RandomNormalLike",
            "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout", "BiasDropout", "BitmaskDropout",
            "BitmaskBiasDropout");
    /** Initializers compared by content up to this size (constants such as 1.0 or an axes list, not weights). */
    private static final long MAX_CONTENT_BYTES = 256;

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        Map<String, String> canonical = new HashMap<>(); // value -> the value it equals
        Map<String, String> byContent = new HashMap<>();
        for (TensorProto t : g.graph.getInitializerList()) {
            if (!g.isInitializer(t.getName()) || InitializerData.byteLength(t) > MAX_CONTENT_BYTES) {
                continue;
            }
            String key = t.getDataType() + ":" + t.getDimsList() + ":"
                    + Base64.getEncoder().encodeToString(bytes(InitializerData.read(t, g.modelDir)));
            String first = byContent.putIfAbsent(key, t.getName());
            if (first != null) {
                canonical.put(t.getName(), first);
            }
        }
        Map<String, NodeProto> seen = new HashMap<>();
        int merged = 0;
        for (NodeProto n : g.nodes()) {
            String key = key(n, canonical, g);
            if (key == null) {
                continue;
            }
            NodeProto first = seen.putIfAbsent(key, n);
            if (first == null) {
                continue;
            }
            List<NodeProto> ids = new ArrayList<>();
            for (int i = 0; i < n.getOutputCount(); i++) {
                String o = n.getOutput(i);
                if (!o.isEmpty()) {
                    canonical.put(o, first.getOutput(i));
                    ids.add(g.identity(n, first.getOutput(i), o));
                }
            }
            g.replace(n, ids);
            merged++;
        }
        return merged;
    }

    /** What makes two nodes equal, or null when the node must not be merged. */
    private static String key(NodeProto n, Map<String, String> canonical, FusionGraph g) {
        if (n.getOutputCount() == 0 || RANDOM.contains(n.getOpType()) || GraphEdits.hasSubgraph(n)) {
            return null;
        }
        StringBuilder k = new StringBuilder(n.getDomain()).append('|').append(n.getOpType()).append('|');
        for (String in : n.getInputList()) {
            k.append(canonical.getOrDefault(in, in)).append(',');
        }
        k.append('|');
        for (String o : n.getOutputList()) {
            if (!o.isEmpty() && g.isGraphOutput(o)) {
                return null;
            }
            k.append(o.isEmpty() ? '-' : '+');
        }
        k.append('|');
        List<AttributeProto> attrs = new ArrayList<>(n.getAttributeList());
        attrs.sort(Comparator.comparing(AttributeProto::getName));
        for (AttributeProto a : attrs) {
            k.append(Base64.getEncoder().encodeToString(a.toByteArray())).append(',');
        }
        return k.toString();
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
