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
 * {@code transA}/{@code transB} (so a transposed weight is read in place, never rewritten), with or without a bias.
 * Within float rounding (Gemm may add the bias inside the product's accumulation).
 *
 * <p>With static shapes, A of rank 3 or more ([B, S, K]) is a matrix [B*S, K] behind a Reshape, and the result goes
 * back through a Reshape. That costs up to two nodes and saves the Add, so it is done only when the node count does
 * not grow: the Reshape in front is free when A already comes out of a Reshape/Flatten/Squeeze/Unsqueeze read only by
 * the MatMuls being fused (it is merged into it by {@link ReshapeFusion}); one Reshape in front serves every fused
 * MatMul reading the same A (the q/k/v projections); the Reshape behind is free when everything that reads the sum is
 * itself a reshape. MatMuls sharing A are fused together or not at all.
 */
final class GemmFusion implements Fusions.Fusion {
    /** One MatMul to fuse: its Add (null when only Transposes are absorbed) and the bias. */
    private record Candidate(NodeProto matmul, NodeProto add, String bias) {
        NodeProto anchor() {
            return add != null ? add : matmul;
        }
    }

    @Override
    public String name() {
        return "Gemm";
    }

    @Override
    public int apply(FusionGraph g) {
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
            Candidate c = withBias(g, mm, y);
            if (a.rank() == 2) {
                NodeProto ta = transposed(g, mm, 0);
                NodeProto tb = transposed(g, mm, 1);
                if (c != null || ta != null || tb != null) {
                    Candidate k = c != null ? c : new Candidate(mm, null, null);
                    if (!g.isReplaced(k.anchor())) {
                        g.replace(k.anchor(), gemm(g, k, ta, tb, mm.getInput(0), k.anchor().getOutput(0)));
                        n++;
                    }
                }
            } else if (c != null) {
                batched.computeIfAbsent(mm.getInput(0), k -> new ArrayList<>()).add(c);
            }
        }
        for (Map.Entry<String, List<Candidate>> e : batched.entrySet()) {
            n += fuseBatched(g, e.getKey(), e.getValue());
        }
        return n;
    }

    /** The MatMul with the Add of a row bias that alone reads it, or null. */
    private static Candidate withBias(FusionGraph g, NodeProto mm, TensorType y) {
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
        return new Candidate(mm, add, bias);
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

    private static NodeProto gemm(FusionGraph g, Candidate c, NodeProto ta, NodeProto tb, String a, String out) {
        NodeProto mm = c.matmul();
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
            cost += reshapesOnly(g, c.add().getOutput(0)) ? 0 : 1;
            cost -= 1;
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
            String out = c.add().getOutput(0);
            String product = g.fresh(out + "/2d");
            List<NodeProto> nodes = new ArrayList<>();
            if (i == 0) {
                nodes.add(flatten);
            }
            nodes.add(gemm(g, c, null, null, flat, product));
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
