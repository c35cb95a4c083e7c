package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Removes nodes none of whose outputs lead to a graph output, initializers nothing reads, and value_infos of values
 * that no longer exist. Graph inputs stay unless {@code dropUnusedInputs} is asked for.
 */
public final class DeadCodeElimination {
    private DeadCodeElimination() {
    }

    public static ModelProto apply(ModelProto model) {
        return apply(model, false);
    }

    public static ModelProto apply(ModelProto model, boolean dropUnusedInputs) {
        return model.toBuilder().setGraph(apply(model.getGraph(), dropUnusedInputs)).build();
    }

    public static GraphProto apply(GraphProto graph, boolean dropUnusedInputs) {
        Set<String> needed = new HashSet<>();
        graph.getOutputList().forEach(o -> needed.add(o.getName()));
        List<NodeProto> nodes = graph.getNodeList();
        boolean[] keep = new boolean[nodes.size()];
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto n = nodes.get(i);
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && needed.contains(o)) {
                    keep[i] = true;
                    break;
                }
            }
            if (keep[i]) {
                needed.addAll(GraphEdits.reads(n));
            }
        }
        GraphProto.Builder b = graph.toBuilder().clearNode().clearInitializer().clearValueInfo();
        Set<String> defined = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (keep[i]) {
                b.addNode(nodes.get(i));
                defined.addAll(GraphEdits.nonEmpty(nodes.get(i).getOutputList()));
            }
        }
        for (TensorProto t : graph.getInitializerList()) {
            if (needed.contains(t.getName())) {
                b.addInitializer(t);
                defined.add(t.getName());
            }
        }
        if (dropUnusedInputs) {
            List<ValueInfoProto> inputs = new ArrayList<>();
            for (ValueInfoProto in : graph.getInputList()) {
                if (needed.contains(in.getName())) {
                    inputs.add(in);
                }
            }
            b.clearInput().addAllInput(inputs);
        }
        for (ValueInfoProto v : graph.getValueInfoList()) {
            if (defined.contains(v.getName())) {
                b.addValueInfo(v);
            }
        }
        return b.build();
    }
}
