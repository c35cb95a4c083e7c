package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Small helpers the passes share: renaming value uses (through subgraphs) and finding outer-scope reads. */
final class GraphEdits {
    private GraphEdits() {
    }

    /** The node with its outputs renamed by {@code renames} (outputs not in it keep their names). */
    static NodeProto renameOutputs(NodeProto node, Map<String, String> renames) {
        List<String> outputs = node.getOutputList().stream().map(o -> renames.getOrDefault(o, o)).toList();
        return outputs.equals(node.getOutputList()) ? node
                : node.toBuilder().clearOutput().addAllOutput(outputs).build();
    }

    /** The node with every input (and every read inside its subgraphs) renamed by {@code renames}. */
    static NodeProto renameInputs(NodeProto node, Map<String, String> renames) {
        if (renames.isEmpty()) {
            return node;
        }
        NodeProto.Builder b = null;
        for (int i = 0; i < node.getInputCount(); i++) {
            String to = renames.get(node.getInput(i));
            if (to != null) {
                if (b == null) {
                    b = node.toBuilder();
                }
                b.setInput(i, to);
            }
        }
        for (int a = 0; a < node.getAttributeCount(); a++) {
            AttributeProto attr = node.getAttribute(a);
            if (attr.hasG()) {
                GraphProto g = renameReads(attr.getG(), renames);
                if (g != attr.getG()) {
                    if (b == null) {
                        b = node.toBuilder();
                    }
                    b.setAttribute(a, attr.toBuilder().setG(g));
                }
            }
        }
        return b == null ? node : b.build();
    }

    /** A subgraph with its reads of outer values renamed (names it defines itself shadow and are left alone). */
    static GraphProto renameReads(GraphProto g, Map<String, String> renames) {
        Set<String> local = definedNames(g);
        boolean changed = false;
        GraphProto.Builder b = g.toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto n = g.getNode(i);
            Map<String, String> visible = renames;
            if (!local.isEmpty()) {
                visible = new java.util.HashMap<>(renames);
                visible.keySet().removeAll(local);
            }
            NodeProto r = renameInputs(n, visible);
            if (r != n) {
                b.setNode(i, r);
                changed = true;
            }
        }
        for (int i = 0; i < g.getOutputCount(); i++) {
            String to = renames.get(g.getOutput(i).getName());
            if (to != null && !local.contains(g.getOutput(i).getName())) {
                b.setOutput(i, g.getOutput(i).toBuilder().setName(to));
                changed = true;
            }
        }
        return changed ? b.build() : g;
    }

    /** Names a graph defines: its inputs, initializers and node outputs. */
    static Set<String> definedNames(GraphProto g) {
        Set<String> names = new HashSet<>();
        g.getInputList().forEach(v -> names.add(v.getName()));
        g.getInitializerList().forEach(t -> names.add(t.getName()));
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    names.add(o);
                }
            }
        }
        return names;
    }

    /** Every value a node reads: its inputs and what its subgraphs read from outside themselves. */
    static Set<String> reads(NodeProto node) {
        Set<String> out = new LinkedHashSet<>();
        for (String in : node.getInputList()) {
            if (!in.isEmpty()) {
                out.add(in);
            }
        }
        for (AttributeProto a : node.getAttributeList()) {
            if (a.hasG()) {
                out.addAll(outerReads(a.getG()));
            }
            for (GraphProto g : a.getGraphsList()) {
                out.addAll(outerReads(g));
            }
        }
        return out;
    }

    /** Values a subgraph reads that it does not define. */
    static Set<String> outerReads(GraphProto g) {
        Set<String> local = definedNames(g);
        Set<String> out = new LinkedHashSet<>();
        for (NodeProto n : g.getNodeList()) {
            for (String r : reads(n)) {
                if (!local.contains(r)) {
                    out.add(r);
                }
            }
        }
        for (ValueInfoProto o : g.getOutputList()) {
            if (!local.contains(o.getName())) {
                out.add(o.getName());
            }
        }
        return out;
    }

    static Set<String> names(Collection<ValueInfoProto> infos) {
        Set<String> s = new HashSet<>();
        infos.forEach(v -> s.add(v.getName()));
        return s;
    }

    static boolean hasSubgraph(NodeProto n) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.hasG() || a.getGraphsCount() > 0) {
                return true;
            }
        }
        return false;
    }

    static List<String> nonEmpty(List<String> names) {
        return names.stream().filter(s -> !s.isEmpty()).toList();
    }
}
