package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.List;

/**
 * Multiplications and divisions by one-element constants:
 * <ul>
 * <li>a chain {@code x * c1 * c2} becomes {@code x * (c1*c2)}, {@code x / c1 / c2} becomes {@code x / (c1*c2)} and a
 * mixed chain one Mul by {@code c1/c2}; the constant is computed in double and rounded once, so the result is within
 * float rounding of the chain's (exact when the constants are powers of two);</li>
 * <li>a scale {@code s} (a power of two, so exact) on a MatMul's result, {@code (a @ b) * s}, is merged into a scale
 * already on an operand ({@code (a * c) @ b} gives {@code (a * (c*s)) @ b}: one node fewer), or else moved onto the
 * operand with fewer elements than the result (the attention scores of a decode step, or of a prefill longer than the
 * head size) when that operand is not a constant;</li>
 * <li>{@code x / c} becomes {@code x * (1/c)} only when that is exact: c a power of two whose reciprocal the element
 * type holds. Any other lone division is left as it is.</li>
 * </ul>
 * Only when the constant does not broadcast x to a larger shape, and for floating types.
 */
final class ScaleFusion {
    /** {@code node} computes {@code x * c} (or {@code x / c} when {@code div}). */
    record Scale(NodeProto node, String x, String constant, double c, boolean div) {
        /** The factor x is multiplied by. */
        double factor() {
            return div ? 1 / c : c;
        }
    }

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        for (NodeProto node : g.nodes()) {
            Scale s = scale(g, node);
            if (s == null || g.isReplaced(node)) {
                continue;
            }
            int elemType = g.type(s.x()).elemType();
            List<NodeProto> r = chain(g, s, elemType);
            if (r == null) {
                r = acrossMatMul(g, s, elemType);
            }
            if (r == null && s.div() && isPowerOfTwo(s.c(), elemType) && isPowerOfTwo(1 / s.c(), elemType)) {
                ConstTensor c = g.constant(s.constant());
                ConstTensor inv = ConstTensor.ofDoubles(elemType, c.dims(), new double[] {1 / s.c()});
                r = List.of(g.node(node, "Mul", List.of(s.x(), g.addConstant(s.constant() + "/reciprocal", inv)),
                        node.getOutput(0)));
            }
            if (r != null) {
                g.replace(node, r);
                n++;
            }
        }
        return n;
    }

    /** The node as a scale of a value by a one-element floating constant that keeps the value's type, or null. */
    static Scale scale(FusionGraph g, NodeProto n) {
        boolean mul = FusionGraph.is(n, "Mul");
        if (!(mul || FusionGraph.is(n, "Div")) || n.getInputCount() != 2) {
            return null;
        }
        TensorType out = g.type(n.getOutput(0));
        if (out == null || !FusionGraph.FLOATS.contains(out.elemType())) {
            return null;
        }
        Scale s = null;
        Double c = g.scalar(n.getInput(1));
        if (c != null) {
            s = new Scale(n, n.getInput(0), n.getInput(1), c, !mul);
        } else if (mul && (c = g.scalar(n.getInput(0))) != null) {
            s = new Scale(n, n.getInput(1), n.getInput(0), c, false);
        }
        if (s == null || s.c() == 0 || !Double.isFinite(s.c()) || !out.equals(g.type(s.x()))) {
            return null;
        }
        return s;
    }

    /** {@code (x op1 c1) op2 c2} as one node, or null. */
    private static List<NodeProto> chain(FusionGraph g, Scale outer, int elemType) {
        NodeProto p = g.producer(outer.x());
        Scale inner = p == null ? null : scale(g, p);
        if (inner == null || !g.onlyFeeds(outer.x(), outer.node())) {
            return null;
        }
        NodeProto node = outer.node();
        String out = node.getOutput(0);
        boolean div = inner.div() && outer.div();
        double c = div ? inner.c() * outer.c() : inner.factor() * outer.factor();
        double rounded = ConstTensor.round(elemType, c);
        if (rounded == 0 || !Double.isFinite(rounded)) {
            return null;
        }
        if (rounded == 1) {
            return List.of(g.identity(node, inner.x(), out));
        }
        String constant = g.addConstant(out + "/scale", ConstTensor.scalar(elemType, rounded));
        return List.of(g.node(node, div ? "Div" : "Mul", List.of(inner.x(), constant), out));
    }

    /** A power-of-two scale of a MatMul's result moved onto (or merged into a scale of) an operand, or null. */
    private static List<NodeProto> acrossMatMul(FusionGraph g, Scale s, int elemType) {
        double f = s.factor();
        NodeProto mm = g.producer(s.x(), "MatMul");
        if (mm == null || !isPowerOfTwo(f, elemType) || !g.onlyFeeds(s.x(), s.node())) {
            return null;
        }
        NodeProto node = s.node();
        String out = node.getOutput(0);
        for (int side = 0; side < 2; side++) {
            String operand = mm.getInput(side);
            NodeProto p = g.producer(operand);
            Scale inner = p == null ? null : scale(g, p);
            if (inner != null && g.onlyFeeds(operand, mm)) {
                // exact: multiplying or dividing a constant by a power of two
                double c = inner.div() ? inner.c() / f : inner.c() * f;
                if (ConstTensor.round(elemType, c) != c || c == 0 || !Double.isFinite(c)) {
                    continue;
                }
                String scaled = g.fresh(operand + "/scaled");
                String constant = g.addConstant(scaled + "/scale", ConstTensor.scalar(elemType, c));
                return List.of(g.node(node, inner.div() ? "Div" : "Mul", List.of(inner.x(), constant), scaled),
                        matmul(g, node, mm, side, scaled, out));
            }
        }
        long a = g.type(mm.getInput(0)).elementCount();
        long b = g.type(mm.getInput(1)).elementCount();
        long result = g.type(out).elementCount();
        if (Math.min(a, b) >= result) {
            return null;
        }
        int side = a <= b ? 0 : 1;
        if (g.isInitializer(mm.getInput(side))) {
            return null; // a Mul of a constant would be an unfolded constant computation in a static graph
        }
        String scaled = g.fresh(mm.getInput(side) + "/scaled");
        String constant = g.addConstant(scaled + "/scale", ConstTensor.scalar(elemType, f));
        return List.of(g.node(node, "Mul", List.of(mm.getInput(side), constant), scaled),
                matmul(g, node, mm, side, scaled, out));
    }

    private static NodeProto matmul(FusionGraph g, NodeProto anchor, NodeProto mm, int side, String operand,
                                    String out) {
        List<String> in = side == 0 ? List.of(operand, mm.getInput(1)) : List.of(mm.getInput(0), operand);
        return g.node(anchor, "MatMul", in, out);
    }

    /** Whether {@code v} is ±2^k and the element type holds it exactly (so scaling by it is exact). */
    static boolean isPowerOfTwo(double v, int elemType) {
        if (v == 0 || !Double.isFinite(v) || ConstTensor.round(elemType, v) != v) {
            return false;
        }
        double m = Math.abs(v);
        return m == Math.scalb(1.0, Math.getExponent(m));
    }
}
