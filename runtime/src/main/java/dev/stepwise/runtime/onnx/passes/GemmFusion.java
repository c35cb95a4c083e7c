package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code MatMul(A, B) + bias} becomes {@code Gemm(A, B, bias)} when B is a matrix [K, N] and the bias broadcasts along
 * rows ([N], [1, N] or one element); a rank-2 Transpose feeding either matrix of a rank-2 MatMul becomes Gemm's
 * {@code transA}/{@code transB} (so a transposed weight is read in place, never rewritten), with or without a bias;
 * a Transpose of a matrix B feeding a MatMul of a higher-rank A becomes {@code transB} on the same terms as a bias.
 * Within float rounding (Gemm may add the bias inside the product's accumulation).
 *
 * <p>With static shapes, A of rank 3 or more ([B, S, K]) is a matrix [B*S, K] behind a Reshape, and the result goes
 * back through a Reshape. That costs up to two nodes and saves the Add (and B's Transpose), so it is done only when
 * the node count does not grow: the Reshape in front is free when A already comes out of a
 * Reshape/Flatten/Squeeze/Unsqueeze read only by the MatMuls being fused (it is merged into it by
 * {@link ReshapeFusion}); one Reshape in front serves every fused MatMul reading the same A (the q/k/v projections);
 * the Reshape behind is free when everything that reads the result is itself a reshape. MatMuls sharing A are fused
 * together or not at all.
 */
final class GemmFusion {
    /**
     * One MatMul to fuse: its Add and bias (null when only Transposes are absorbed) and the rank-2 Transposes feeding
     * A and B that become transA/transB (null when none).
     */
    private record Candidate(NodeProto matmul, NodeProto add, String bias, NodeProto ta, NodeProto tb) {
        NodeProto anchor() {
            return add != null ? add : matmul;
        }

        /** Nodes the fusion removes. */
        int saved() {
            return (add != null ? 1 : 0) + (ta != null ? 1 : 0) + (tb != null ? 1 : 0);
        }
    }

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        Map<String, List<Candidate>> batched = new LinkedHashMap<>();
        for (NodeProto mm : g.nodes()) {
            if (!FusionGraph.is(mm, "MatMul")) {
                continue;
            }
            TensorType a = g.type(mm.getInput(0));
            TensorType b = g.type(mm.getInput(1));
            TensorType y = g.type(mm.getOutput(0));
            if (a == null || b == null || y == null || b.rank() != 2 || a.rank() < 2
                    || !FusionGraph.FLOATS.contains(y.elemType()) || y.elementCount() == 0) {
                continue;
            }
            NodeProto add = withBias(g, mm, y);
            Candidate c = new Candidate(mm, add, add == null ? null : other(add, mm.getOutput(0)),
                    a.rank() == 2 ? transposed(g, mm, 0) : null, transposed(g, mm, 1));
            if (c.saved() == 0) {
                continue;
            }
            if (a.rank() == 2) {
                if (!g.isReplaced(c.anchor())) {
                    g.replace(c.anchor(), gemm(g, c, mm.getInput(0), c.anchor().getOutput(0)));
                    n++;
                }
            } else {
                batched.computeIfAbsent(mm.getInput(0), k -> new ArrayList<>()).add(c);
            }
        }
        for (Map.Entry<String, List<Candidate>> e : batched.entrySet()) {
            n += fuseBatched(g, e.getKey(), e.getValue());
        }
        return n;
    }

    private static String other(NodeProto binary, String value) {
        return binary.getInput(0).equals(value) ? binary.getInput(1) : binary.getInput(0);
    }

    /** The Add of a row bias that alone reads the MatMul's result, or null. */
    private static NodeProto withBias(FusionGraph g, NodeProto mm, TensorType y) {
        String product = mm.getOutput(0);
        List<NodeProto> readers = g.consumers(product);
        if (readers.size() != 1 || g.isGraphOutput(product)) {
            return null;
        }
        NodeProto add = readers.get(0);
        if (!FusionGraph.is(add, "Add") || add.getInputCount() != 2 || add.getInput(0).equals(add.getInput(1))) {
            return null;
        }
        String bias = add.getInput(0).equals(product) ? add.getInput(1) : add.getInput(0);
        TensorType t = g.type(bias);
        long n = y.dim(-1);
        boolean rowBias = t.elemType() == y.elemType() && (t.elementCount() == 1 && t.rank() <= 1
                || t.rank() == 1 && t.dim(0) == n || t.rank() == 2 && t.dim(0) == 1 && t.dim(1) == n);
        if (!rowBias || !y.equals(g.type(add.getOutput(0)))) {
            return null;
        }
        return add;
    }

    /** The rank-2 Transpose (perm [1, 0]) that alone feeds input {@code side} of the MatMul, or null. */
    private static NodeProto transposed(FusionGraph g, NodeProto mm, int side) {
        String v = mm.getInput(side);
        NodeProto t = g.producer(v, "Transpose");
        if (t == null || mm.getInput(0).equals(mm.getInput(1)) || !g.onlyFeeds(v, mm)) {
            return null;
        }
        return g.type(t.getInput(0)).rank() == 2 ? t : null;
    }

    private static NodeProto gemm(FusionGraph g, Candidate c, String a, String out) {
        NodeProto mm = c.matmul();
        NodeProto ta = c.ta();
        NodeProto tb = c.tb();
        List<String> in = new ArrayList<>(List.of(ta != null ? ta.getInput(0) : a,
                tb != null ? tb.getInput(0) : mm.getInput(1)));
        if (c.bias() != null) {
            in.add(c.bias());
        }
        List<AttributeProto> attrs = new ArrayList<>();
        if (ta != null) {
            attrs.add(Attributes.of("transA", 1L));
        }
        if (tb != null) {
            attrs.add(Attributes.of("transB", 1L));
        }
        return g.node(c.anchor(), "Gemm", in, out, attrs.toArray(new AttributeProto[0]));
    }

    /** MatMuls of a rank-3+ A with their biases: fused behind one Reshape when the node count does not grow. */
    private static int fuseBatched(FusionGraph g, String a, List<Candidate> group) {
        TensorType at = g.type(a);
        Set<NodeProto> matmuls = new HashSet<>();
        group.forEach(c -> matmuls.add(c.matmul()));
        NodeProto source = g.producer(a, FusionGraph.RESHAPES);
        int cost = source != null && g.onlyFeeds(a, matmuls) ? 0 : 1;
        for (Candidate c : group) {
            if (g.isReplaced(c.anchor())) {
                return 0;
            }
            cost += reshapesOnly(g, c.anchor().getOutput(0)) ? 0 : 1;
            cost -= c.saved();
        }
        if (cost > 0) {
            return 0;
        }
        long k = at.dim(-1);
        long m = at.elementCount() / k;
        String flat = g.fresh(a + "/2d");
        NodeProto flatten = g.reshape(group.get(0).anchor(), a, new long[] {m, k}, flat);
        for (int i = 0; i < group.size(); i++) {
            Candidate c = group.get(i);
            String out = c.anchor().getOutput(0);
            String product = g.fresh(out + "/2d");
            List<NodeProto> nodes = new ArrayList<>();
            if (i == 0) {
                nodes.add(flatten);
            }
            nodes.add(gemm(g, c, flat, product));
            nodes.add(g.reshape(c.anchor(), product, g.type(out).dims(), out));
            g.replace(c.anchor(), nodes);
        }
        return group.size();
    }

    /** Whether {@code value} is read, and only by Reshape-like nodes (which a Reshape in front merges into). */
    private static boolean reshapesOnly(FusionGraph g, String value) {
        List<NodeProto> readers = g.consumers(value);
        if (readers.isEmpty() || g.isGraphOutput(value)) {
            return false;
        }
        for (NodeProto r : readers) {
            if (!FusionGraph.isStandard(r) || !FusionGraph.RESHAPES.contains(r.getOpType())
                    || !r.getInput(0).equals(value)) {
                return false;
            }
        }
        return true;
    }
}
