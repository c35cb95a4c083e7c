package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * From opset 20, the written-out GELU becomes {@code Gelu(x)}: {@code x * 0.5 * (1 + Erf(u))} with {@code u = x/√2}
 * (approximate "none"), and {@code x * 0.5 * (1 + Tanh(u))} with {@code u = √(2/π)·(x + 0.044715·x³)} (approximate
 * "tanh", GPT-2's gelu_new). The outer product may be associated and ordered any way; u may be written any way out of
 * Add/Sub/Mul/Div/Pow/Neg with one-element constants (x/√2, x·0.7071, √(2/π)·x·(1 + 0.044715·x·x), ...): it is
 * checked by evaluating it at sample points. None of the intermediates may be read elsewhere. Within float rounding.
 * Below opset 20 there is no standard Gelu and the decomposition stays.
 */
final class GeluFusion {
    static final int SINCE = 20;
    private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Neg");
    private static final double[] SAMPLES = {-4, -2.5, -1.3, -0.7, -0.1, 0, 0.2, 0.6, 1.1, 1.9, 3.2, 5};
    private static final int MAX_CONE = 16;

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        for (NodeProto f : g.nodes()) {
            boolean erf = FusionGraph.is(f, "Erf");
            if ((erf || FusionGraph.is(f, "Tanh")) && fuse(g, f, erf)) {
                n++;
            }
        }
        return n;
    }

    private static boolean fuse(FusionGraph g, NodeProto f, boolean erf) {
        Set<NodeProto> pattern = new HashSet<>(List.of(f));
        // a = 1 + f(u)
        String fu = f.getOutput(0);
        List<NodeProto> r = g.consumers(fu);
        if (r.size() != 1 || g.isGraphOutput(fu) || !FusionGraph.is(r.get(0), "Add")) {
            return false;
        }
        NodeProto onePlus = r.get(0);
        String one = onePlus.getInput(0).equals(fu) ? onePlus.getInput(1) : onePlus.getInput(0);
        if (!Double.valueOf(1).equals(g.scalar(one)) || !g.type(fu).equals(g.type(onePlus.getOutput(0)))) {
            return false;
        }
        pattern.add(onePlus);
        String a = onePlus.getOutput(0);
        // climb the product that a is a factor of, until its factors are {x, a, 0.5}
        NodeProto top = only(g, a, "Mul");
        for (int level = 0; top != null && level < 3; level++) {
            Product p = new Product();
            Set<NodeProto> muls = new HashSet<>();
            p.expand(g, top.getOutput(0), muls, true);
            String x = p.x(a);
            if (x != null && Math.abs(p.constant - 0.5) <= 1e-7 && sameType(g, x, top.getOutput(0))) {
                Set<NodeProto> all = new HashSet<>(pattern);
                all.addAll(muls);
                if (argumentMatches(g, f.getInput(0), x, erf, all)) {
                    for (NodeProto n : all) {
                        if (g.isReplaced(n)) {
                            return false;
                        }
                    }
                    String out = top.getOutput(0);
                    g.replace(top, g.node(top, "Gelu", List.of(x), out,
                            Attributes.of("approximate", erf ? "none" : "tanh")));
                    return true;
                }
            }
            top = only(g, top.getOutput(0), "Mul");
        }
        return false;
    }

    private static boolean sameType(FusionGraph g, String x, String y) {
        TensorType t = g.type(x);
        return t != null && t.equals(g.type(y)) && FusionGraph.FLOATS.contains(t.elemType());
    }

    private static NodeProto only(FusionGraph g, String value, String op) {
        List<NodeProto> readers = g.consumers(value);
        if (readers.size() != 1 || g.isGraphOutput(value) || !FusionGraph.is(readers.get(0), op)) {
            return null;
        }
        return readers.get(0);
    }

    /** The factors of a tree of Muls whose inner results are read only inside it. */
    private static final class Product {
        double constant = 1;
        final List<String> factors = new ArrayList<>();

        void expand(FusionGraph g, String value, Set<NodeProto> muls, boolean root) {
            NodeProto p = g.producer(value, "Mul");
            boolean inner = p != null && (root || (g.consumers(value).size() == 1 && muls.contains(
                    g.consumers(value).get(0)) && !g.isGraphOutput(value)));
            Double c = g.scalar(value);
            if (c != null && !root) {
                constant *= c;
            } else if (inner && p.getInputCount() == 2) {
                muls.add(p);
                expand(g, p.getInput(0), muls, false);
                expand(g, p.getInput(1), muls, false);
            } else {
                factors.add(value);
            }
        }

        /** The one factor other than {@code a} when the factors are exactly {a, x}, else null. */
        String x(String a) {
            if (factors.size() != 2 || !factors.contains(a)) {
                return null;
            }
            String x = factors.get(0).equals(a) ? factors.get(1) : factors.get(0);
            return x.equals(a) ? null : x;
        }
    }

    /**
     * Whether {@code u} is computed from x alone by elementwise ops with constants, read nowhere else, and equals
     * the GELU argument at the sample points.
     */
    private static boolean argumentMatches(FusionGraph g, String u, String x, boolean erf, Set<NodeProto> pattern) {
        Map<String, NodeProto> cone = new HashMap<>();
        if (!collect(g, u, x, cone)) {
            return false;
        }
        Set<NodeProto> all = new HashSet<>(pattern);
        all.addAll(cone.values());
        for (String v : cone.keySet()) {
            if (!g.onlyFeeds(v, all) || !sameType(g, x, v)) {
                return false;
            }
        }
        for (double s : SAMPLES) {
            Double got = eval(g, u, x, s, cone, new HashMap<>());
            double want = erf ? s / Math.sqrt(2) : Math.sqrt(2 / Math.PI) * (s + 0.044715 * s * s * s);
            if (got == null || Math.abs(got - want) > 1e-5 * Math.max(1, Math.abs(want))) {
                return false;
            }
        }
        pattern.addAll(cone.values());
        return true;
    }

    private static boolean collect(FusionGraph g, String v, String x, Map<String, NodeProto> cone) {
        if (v.equals(x) || cone.containsKey(v) || g.scalar(v) != null && g.isInitializer(v)) {
            return true;
        }
        NodeProto p = g.producer(v, ELEMENTWISE);
        if (p == null || cone.size() >= MAX_CONE) {
            return false;
        }
        cone.put(v, p);
        for (String in : p.getInputList()) {
            if (!collect(g, in, x, cone)) {
                return false;
            }
        }
        return true;
    }

    private static Double eval(FusionGraph g, String v, String x, double xv, Map<String, NodeProto> cone,
                               Map<String, Double> memo) {
        if (v.equals(x)) {
            return xv;
        }
        Double known = memo.get(v);
        if (known != null) {
            return known;
        }
        NodeProto p = cone.get(v);
        if (p == null) {
            return g.scalar(v);
        }
        Double a = eval(g, p.getInput(0), x, xv, cone, memo);
        Double b = p.getInputCount() > 1 ? eval(g, p.getInput(1), x, xv, cone, memo) : null;
        if (a == null || (b == null && !p.getOpType().equals("Neg"))) {
            return null;
        }
        double r = switch (p.getOpType()) {
            case "Add" -> a + b;
            case "Sub" -> a - b;
            case "Mul" -> a * b;
            case "Div" -> a / b;
            case "Pow" -> Math.pow(a, b);
            default -> -a;
        };
        memo.put(v, r);
        return r;
    }
}
