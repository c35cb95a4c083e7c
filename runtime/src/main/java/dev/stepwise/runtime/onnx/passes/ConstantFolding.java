package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Evaluates, in Java, every node whose inputs are all constants (initializers that are not graph inputs, Constant
 * nodes, earlier folded nodes) — including Shape and Size of values whose static shape is known — and replaces it by
 * initializers. Results above the element cap (1M by default) are never materialised, so weight-sized tensors stay
 * as they are; external weights are read only when a fold needs them and they are small. Orphaned producers are left
 * for {@link DeadCodeElimination}.
 */
public final class ConstantFolding {
    private ConstantFolding() {
    }

    /** What one run did. */
    public record Result(ModelProto model, int foldedNodes) {
    }

    public static ModelProto apply(ModelProto model, Path modelDir) {
        return run(model, modelDir, GraphInference.DEFAULT_MAX_ELEMENTS).model();
    }

    public static Result run(ModelProto model, Path modelDir, long maxElements) {
        ModelProto sorted = TopologicalSort.apply(model);
        GraphInference inference = new GraphInference(GraphInference.defaultOpset(sorted), modelDir, maxElements,
                GraphInference.DEFAULT_MAX_EXTERNAL_BYTES);
        GraphProto g = sorted.getGraph();
        Scope scope = inference.run(g);
        GraphProto.Builder b = g.toBuilder().clearNode();
        Set<String> initializers = new HashSet<>();
        g.getInitializerList().forEach(t -> initializers.add(t.getName()));
        int folded = 0;
        for (NodeProto n : g.getNodeList()) {
            if (!isFolded(n, scope)) {
                b.addNode(n);
                continue;
            }
            folded++;
            for (String o : n.getOutputList()) {
                if (o.isEmpty()) {
                    continue;
                }
                TensorProto t = scope.values.get(o).toProto(o);
                b.addInitializer(t);
                initializers.add(o);
            }
        }
        if (folded == 0) {
            return new Result(model, 0);
        }
        return new Result(sorted.toBuilder().setGraph(b).build(), folded);
    }

    private static boolean isFolded(NodeProto n, Scope scope) {
        if (n.getOutputCount() == 0) {
            return false;
        }
        for (String o : n.getOutputList()) {
            if (!o.isEmpty() && !scope.values.containsKey(o)) {
                return false;
            }
        }
        return true;
    }
}
