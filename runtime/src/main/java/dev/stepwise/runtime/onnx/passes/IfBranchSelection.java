package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Replaces each {@code If} whose condition is a constant by the nodes of the branch it would take. The branch's
 * initializers move to the graph; names the branch defines that clash with names of the graph get a suffix; the
 * branch's outputs are renamed to the If's outputs (an Identity bridges the cases a rename cannot: an output that is
 * an outer value, an initializer, or listed twice). Reads of outer values need no change: they are graph values now.
 */
public final class IfBranchSelection {
    private IfBranchSelection() {
    }

    /** Folds constants first so that a condition computed from constants is known. */
    public static ModelProto apply(ModelProto model, Path modelDir) {
        GraphInference inference = GraphInference.forModel(model, modelDir);
        Scope scope = inference.run(model.getGraph());
        return model.toBuilder().setGraph(apply(model.getGraph(), name -> inference.value(scope, name))).build();
    }

    /** Number of If nodes in the graph (not counting nested ones). */
    public static int count(GraphProto graph) {
        int n = 0;
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("If")) {
                n++;
            }
        }
        return n;
    }

    static GraphProto apply(GraphProto graph, java.util.function.Function<String, ConstTensor> values) {
        Set<String> taken = new HashSet<>(GraphEdits.definedNames(graph));
        GraphProto.Builder b = graph.toBuilder().clearNode();
        boolean changed = false;
        for (NodeProto node : graph.getNodeList()) {
            if (!node.getOpType().equals("If") || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))) {
                b.addNode(node);
                continue;
            }
            ConstTensor cond = values.apply(node.getInput(0));
            if (cond == null || cond.size() != 1) {
                b.addNode(node);
                continue;
            }
            GraphProto branch = Attrs.getGraph(node, cond.getBool(0) ? "then_branch" : "else_branch");
            inline(node, branch, taken, b);
            changed = true;
        }
        return changed ? b.build() : graph;
    }

    private static void inline(NodeProto ifNode, GraphProto branch, Set<String> taken, GraphProto.Builder out) {
        Set<String> local = new HashSet<>();
        branch.getInitializerList().forEach(t -> local.add(t.getName()));
        for (NodeProto n : branch.getNodeList()) {
            local.addAll(GraphEdits.nonEmpty(n.getOutputList()));
        }
        // the If's outputs become names in the graph: branch outputs produced by a branch node take them
        Map<String, String> renames = new HashMap<>();
        Set<String> ifOutputs = new HashSet<>(ifNode.getOutputList());
        Set<String> claimed = new HashSet<>();
        List<String[]> bridges = new ArrayList<>();
        Set<String> branchInitializers = new HashSet<>();
        branch.getInitializerList().forEach(t -> branchInitializers.add(t.getName()));
        for (int i = 0; i < ifNode.getOutputCount(); i++) {
            String target = ifNode.getOutput(i);
            if (target.isEmpty()) {
                continue;
            }
            String inner = branch.getOutput(i).getName();
            if (local.contains(inner) && !branchInitializers.contains(inner) && claimed.add(inner)) {
                renames.put(inner, target);
            } else {
                bridges.add(new String[] {inner, target});
            }
        }
        for (String name : local) {
            if (renames.containsKey(name)) {
                continue;
            }
            if (taken.contains(name) || ifOutputs.contains(name)) {
                String fresh = name;
                for (int k = 1; taken.contains(fresh) || ifOutputs.contains(fresh) || local.contains(fresh); k++) {
                    fresh = name + "__" + k;
                }
                renames.put(name, fresh);
            }
        }
        for (String name : local) {
            taken.add(renames.getOrDefault(name, name));
        }
        for (TensorProto t : branch.getInitializerList()) {
            out.addInitializer(t.toBuilder().setName(renames.getOrDefault(t.getName(), t.getName())));
        }
        for (NodeProto n : branch.getNodeList()) {
            NodeProto r = GraphEdits.renameInputs(n, renames);
            NodeProto.Builder nb = r.toBuilder();
            for (int i = 0; i < r.getOutputCount(); i++) {
                String to = renames.get(r.getOutput(i));
                if (to != null) {
                    nb.setOutput(i, to);
                }
            }
            out.addNode(nb);
        }
        for (var v : branch.getValueInfoList()) {
            out.addValueInfo(v.toBuilder().setName(renames.getOrDefault(v.getName(), v.getName())));
        }
        for (String[] bridge : bridges) {
            String source = renames.getOrDefault(bridge[0], bridge[0]);
            out.addNode(NodeProto.newBuilder().setOpType("Identity").setName(bridge[1] + "/IfOutput")
                    .addInput(source).addOutput(bridge[1]));
        }
    }
}
