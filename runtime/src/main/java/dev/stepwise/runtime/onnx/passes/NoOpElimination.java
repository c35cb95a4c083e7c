package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Uses the static types to find nodes that do nothing once shapes are fixed and turns them into Identity nodes for
 * {@link IdentityElimination}: Reshape, Expand, Tile, Slice and Transpose that leave the shape (and order) as it is,
 * Cast to the same type, a single-input Concat, and adding zero or multiplying by one where that does not broadcast.
 * Concat inputs with no elements (a zero-length past at prefill) are dropped.
 */
public final class NoOpElimination {
    private static final Set<String> SHAPE_PRESERVING = Set.of("Reshape", "Expand", "Tile", "Slice", "Squeeze",
            "Unsqueeze", "Flatten");

    private NoOpElimination() {
    }

    public static ModelProto apply(ModelProto model, Path modelDir) {
        ModelProto sorted = TopologicalSort.apply(model);
        GraphInference inference = GraphInference.forModel(sorted, modelDir);
        Scope scope = inference.run(sorted.getGraph());
        GraphProto g = sorted.getGraph();
        Set<String> outputs = GraphEdits.names(g.getOutputList());
        GraphProto.Builder b = g.toBuilder().clearNode();
        boolean changed = false;
        for (NodeProto n : g.getNodeList()) {
            NodeProto r = rewrite(n, scope, inference, outputs);
            changed |= r != n;
            b.addNode(r);
        }
        return changed ? sorted.toBuilder().setGraph(b).build() : model;
    }

    private static NodeProto rewrite(NodeProto n, Scope scope, GraphInference inference, Set<String> outputs) {
        boolean standard = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
        if (OpRules.MS.equals(n.getDomain()) && n.getOpType().equals("MultiHeadAttention")) {
            return dropEmptyPast(n, scope);
        }
        if (!standard || n.getOutputCount() != 1 || n.getInputCount() == 0 || n.getInput(0).isEmpty()) {
            return n;
        }
        String op = n.getOpType();
        TensorType in = scope.type(n.getInput(0));
        TensorType out = scope.type(n.getOutput(0));
        if (in == null || out == null) {
            return n;
        }
        if (op.equals("Concat")) {
            return concat(n, scope);
        }
        boolean noop = switch (op) {
            case "Cast" -> in.equals(out);
            case "Transpose" -> in.equals(out) && isIdentityPerm(n);
            case "Add", "Sub", "Mul", "Div" -> in.equals(out) && isNeutral(op, n, scope, inference);
            default -> SHAPE_PRESERVING.contains(op) && in.equals(out) && (!op.equals("Slice") || unitSteps(n, scope,
                    inference));
        };
        // Slice keeping every element keeps the order too when all steps are positive (checked above)
        if (!noop) {
            return n;
        }
        return NodeProto.newBuilder().setOpType("Identity").setName(n.getName()).addInput(n.getInput(0))
                .addOutput(n.getOutput(0)).build();
    }

    private static boolean isIdentityPerm(NodeProto n) {
        long[] perm = Attrs.getInts(n, "perm");
        if (perm == null) {
            return false; // reversal; only a no-op for rank <= 1, which in.equals(out) cannot tell
        }
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] != i) {
                return false;
            }
        }
        return true;
    }

    private static boolean unitSteps(NodeProto n, Scope scope, GraphInference inference) {
        if (n.getInputCount() < 5 || n.getInput(4).isEmpty()) {
            return true;
        }
        ConstTensor steps = inference.value(scope, n.getInput(4));
        if (steps == null) {
            return false;
        }
        for (long s : steps.toLongs()) {
            if (s != 1) {
                return false;
            }
        }
        return true;
    }

    /** x + 0, x - 0, x * 1, x / 1 where the constant is the second input and does not broadcast x. */
    private static boolean isNeutral(String op, NodeProto n, Scope scope, GraphInference inference) {
        if (n.getInputCount() != 2) {
            return false;
        }
        ConstTensor c = inference.value(scope, n.getInput(1));
        if (c == null) {
            return false;
        }
        double neutral = op.equals("Add") || op.equals("Sub") ? 0 : 1;
        for (int i = 0; i < c.size(); i++) {
            // x + 0.0 only differs from x for x = -0.0, which no consumer can tell apart
            if (c.getDouble(i) != neutral) {
                return false;
            }
        }
        return true;
    }

    private static NodeProto concat(NodeProto n, Scope scope) {
        TensorType first = scope.type(n.getInput(0));
        int axis = (int) Attrs.getInt(n, "axis", 0);
        if (axis < 0) {
            axis += first.rank();
        }
        NodeProto.Builder b = n.toBuilder().clearInput();
        int kept = 0;
        for (String in : n.getInputList()) {
            if (scope.type(in).dim(axis) != 0) {
                b.addInput(in);
                kept++;
            }
        }
        if (kept == 0) {
            return n;
        }
        if (kept == 1) {
            return NodeProto.newBuilder().setOpType("Identity").setName(n.getName()).addInput(b.getInput(0))
                    .addOutput(n.getOutput(0)).build();
        }
        return kept == n.getInputCount() ? n : b.build();
    }

    /**
     * MultiHeadAttention with a zero-length past_key/past_value (a prefill) computes the same without them: the
     * present is then the new keys and values alone. Dropping them lets the prefill graph do without past inputs.
     */
    private static NodeProto dropEmptyPast(NodeProto n, Scope scope) {
        if (n.getInputCount() < 8 || n.getInput(6).isEmpty() || n.getInput(7).isEmpty()
                || (n.getInputCount() > 8 && !n.getInput(8).isEmpty())) {
            return n;
        }
        TensorType key = scope.type(n.getInput(1));
        TensorType pastKey = scope.type(n.getInput(6));
        TensorType pastValue = scope.type(n.getInput(7));
        if (key == null || key.rank() != 3 || pastKey.rank() != 4 || pastKey.dim(2) != 0 || pastValue.dim(2) != 0) {
            return n;
        }
        int keep = 6;
        while (keep > 3 && n.getInput(keep - 1).isEmpty()) {
            keep--;
        }
        NodeProto.Builder b = n.toBuilder().clearInput();
        for (int i = 0; i < keep; i++) {
            b.addInput(n.getInput(i));
        }
        return b.build();
    }

    /** Number of nodes of each op a graph has, for tests. */
    static Map<String, Integer> counts(GraphProto g) {
        return OpCounts.of(g);
    }
}
