package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes Identity nodes (and single-output Dropout, which is an identity at inference). {@code y = Identity(x)}:
 * readers of y read x instead. When y is a graph output, x is renamed to y instead (its producer writes y directly,
 * its readers follow), which keeps the output's contract name; that is possible only when x is a node output that is
 * not itself a graph output, otherwise the Identity stays.
 */
public final class IdentityElimination {
    private IdentityElimination() {
    }

    public static ModelProto apply(ModelProto model) {
        return model.toBuilder().setGraph(apply(model.getGraph())).build();
    }

    public static GraphProto apply(GraphProto graph) {
        Set<String> outputs = GraphEdits.names(graph.getOutputList());
        Set<String> nodeOutputs = new HashSet<>();
        for (NodeProto n : graph.getNodeList()) {
            nodeOutputs.addAll(GraphEdits.nonEmpty(n.getOutputList()));
        }
        List<NodeProto> nodes = new ArrayList<>(graph.getNodeList());
        Map<String, String> inputRenames = new HashMap<>(); // y -> x for readers
        Map<String, String> producerRenames = new HashMap<>(); // x -> y for producer and readers
        Set<String> renamedSources = new HashSet<>();
        List<NodeProto> kept = new ArrayList<>();
        for (NodeProto n : nodes) {
            if (!isIdentity(n)) {
                kept.add(n);
                continue;
            }
            String x = resolve(n.getInput(0), inputRenames);
            String y = n.getOutput(0);
            if (!outputs.contains(y)) {
                inputRenames.put(y, x);
                continue;
            }
            if (nodeOutputs.contains(x) && !outputs.contains(x) && !renamedSources.contains(x)) {
                producerRenames.put(x, y);
                renamedSources.add(x);
                continue;
            }
            kept.add(n);
        }
        if (inputRenames.isEmpty() && producerRenames.isEmpty()) {
            return graph;
        }
        Map<String, String> all = new HashMap<>();
        for (Map.Entry<String, String> e : inputRenames.entrySet()) {
            String target = resolve(e.getValue(), inputRenames);
            all.put(e.getKey(), producerRenames.getOrDefault(target, target));
        }
        all.putAll(producerRenames);
        GraphProto.Builder b = graph.toBuilder().clearNode();
        for (NodeProto n : kept) {
            b.addNode(GraphEdits.renameOutputs(GraphEdits.renameInputs(n, all), producerRenames));
        }
        // value_info follows renamed values; entries of removed values go
        b.clearValueInfo();
        Set<String> seen = new HashSet<>();
        for (ValueInfoProto v : graph.getValueInfoList()) {
            String name = v.getName();
            if (inputRenames.containsKey(name) || producerRenames.containsKey(name) || outputs.contains(name)) {
                continue;
            }
            if (seen.add(name)) {
                b.addValueInfo(v);
            }
        }
        return b.build();
    }

    static boolean isIdentity(NodeProto n) {
        boolean standard = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
        if (!standard || n.getInputCount() < 1 || n.getInput(0).isEmpty() || n.getOutputCount() < 1) {
            return false;
        }
        if (n.getOpType().equals("Identity")) {
            return true;
        }
        // Dropout without a mask output and without training_mode is an identity at inference
        return n.getOpType().equals("Dropout") && (n.getOutputCount() == 1 || n.getOutput(1).isEmpty())
                && (n.getInputCount() < 3 || n.getInput(2).isEmpty());
    }

    private static String resolve(String name, Map<String, String> renames) {
        String r = name;
        for (int guard = 0; renames.containsKey(r) && guard < 1_000_000; guard++) {
            r = renames.get(r);
        }
        return r;
    }
}
