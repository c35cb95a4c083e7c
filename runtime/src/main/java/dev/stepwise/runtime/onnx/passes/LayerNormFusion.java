package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * From opset 17, the decomposed LayerNorm
 * <pre>
 *   mean = ReduceMean(x, trailing axes)    d = Sub(x, mean)       var = ReduceMean(Pow(d, 2) or Mul(d, d), same axes)
 *   y = Div(d, Sqrt(Add(var, eps)))  (or d * Reciprocal(...), d * (1 / ...))   [* gamma]   [+ beta]
 * </pre>
 * becomes {@code LayerNormalization(x, gamma or ones, beta, axis, epsilon)}, when gamma and beta are constants of
 * exactly the normalized dims and none of the intermediates is read elsewhere. Within float rounding (the fused op
 * computes its statistics in float32 even for float16 inputs, which only makes it more precise). Below opset 17
 * there is no standard op for it and the decomposition stays; the same holds for RMSNorm (no mean) until opset 23.
 */
final class LayerNormFusion {
    static final int SINCE = 17;

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        for (NodeProto mean : g.nodes()) {
            if (FusionGraph.is(mean, "ReduceMean")) {
                n += fuse(g, mean) ? 1 : 0;
            }
        }
        return n;
    }

    private static boolean fuse(FusionGraph g, NodeProto mean) {
        String x = mean.getInput(0);
        TensorType xt = g.type(x);
        int[] axes = trailingAxes(g, mean, xt);
        if (axes == null || !FusionGraph.FLOATS.contains(xt.elemType())) {
            return false;
        }
        Set<NodeProto> pattern = new HashSet<>(List.of(mean));
        NodeProto sub = only(g, mean.getOutput(0), "Sub");
        if (sub == null || !sub.getInput(0).equals(x) || !sub.getInput(1).equals(mean.getOutput(0))
                || !xt.equals(g.type(sub.getOutput(0)))) {
            return false;
        }
        pattern.add(sub);
        String d = sub.getOutput(0);
        List<NodeProto> readers = g.consumers(d);
        if (readers.size() != 2 || g.isGraphOutput(d)) {
            return false;
        }
        NodeProto square = null;
        NodeProto normalize = null;
        for (NodeProto r : readers) {
            if (isSquare(g, r, d)) {
                square = r;
            } else {
                normalize = r;
            }
        }
        if (square == null || normalize == null) {
            return false;
        }
        pattern.add(square);
        NodeProto variance = only(g, square.getOutput(0), "ReduceMean");
        if (variance == null || !Arrays.equals(trailingAxes(g, variance, xt), axes)) {
            return false;
        }
        pattern.add(variance);
        NodeProto addEps = only(g, variance.getOutput(0), "Add");
        if (addEps == null) {
            return false;
        }
        Double eps = g.scalar(other(addEps, variance.getOutput(0)));
        // eps 0 is skipped: a zero attribute value is not serialized and readers would take the default 1e-5
        if (eps == null || eps <= 0 || !g.type(addEps.getOutput(0)).equals(g.type(variance.getOutput(0)))) {
            return false;
        }
        pattern.add(addEps);
        NodeProto sqrt = only(g, addEps.getOutput(0), "Sqrt");
        if (sqrt == null) {
            return false;
        }
        pattern.add(sqrt);
        if (!isNormalize(g, normalize, d, sqrt.getOutput(0), pattern)) {
            return false;
        }
        // optional scale and shift
        long[] normalized = Arrays.copyOfRange(xt.dims(), axes[0], xt.rank());
        NodeProto last = normalize;
        String gamma = null;
        String beta = null;
        NodeProto mul = only(g, last.getOutput(0), "Mul");
        if (mul != null && isAffine(g, mul, last.getOutput(0), normalized, xt)) {
            gamma = other(mul, last.getOutput(0));
            last = mul;
        }
        NodeProto add = only(g, last.getOutput(0), "Add");
        if (add != null && isAffine(g, add, last.getOutput(0), normalized, xt)) {
            beta = other(add, last.getOutput(0));
            last = add;
        }
        for (NodeProto p : pattern) {
            if (g.isReplaced(p)) {
                return false;
            }
        }
        String out = last.getOutput(0);
        if (gamma == null) {
            double[] ones = new double[(int) TensorType.of(xt.elemType(), normalized).elementCount()];
            Arrays.fill(ones, 1);
            gamma = g.addConstant(out + "/scale", ConstTensor.ofDoubles(xt.elemType(), normalized, ones));
        }
        List<String> in = new ArrayList<>(List.of(x, gamma));
        if (beta != null) {
            in.add(beta);
        }
        g.replace(last, g.node(last, "LayerNormalization", in, out, Attributes.of("axis", (long) (axes[0] - xt.rank())),
                Attributes.of("epsilon", (float) (double) eps)));
        return true;
    }

    /** The node of {@code op} that alone reads {@code value}, or null. */
    private static NodeProto only(FusionGraph g, String value, String op) {
        List<NodeProto> readers = g.consumers(value);
        if (readers.size() != 1 || g.isGraphOutput(value) || !FusionGraph.is(readers.get(0), op)) {
            return null;
        }
        return readers.get(0);
    }

    private static String other(NodeProto binary, String value) {
        return binary.getInput(0).equals(value) ? binary.getInput(1) : binary.getInput(0);
    }

    /** The reduced axes when they are the trailing ones, kept as dims of size 1; else null. */
    static int[] trailingAxes(FusionGraph g, NodeProto reduce, TensorType x) {
        // axes moved from an attribute to an input in opset 18
        long[] axes = g.opset < 18 ? Attrs.getInts(reduce, "axes")
                : reduce.getInputCount() > 1 && !reduce.getInput(1).isEmpty() ? g.longs(reduce.getInput(1)) : null;
        if (axes == null || axes.length == 0 || Attrs.getInt(reduce, "keepdims", 1) != 1) {
            return null;
        }
        int[] sorted = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            sorted[i] = (int) (axes[i] < 0 ? axes[i] + x.rank() : axes[i]);
        }
        Arrays.sort(sorted);
        for (int i = 0; i < sorted.length; i++) {
            if (sorted[i] != x.rank() - sorted.length + i) {
                return null;
            }
        }
        return sorted;
    }

    private static boolean isSquare(FusionGraph g, NodeProto r, String d) {
        if (FusionGraph.is(r, "Pow") && r.getInput(0).equals(d)) {
            ConstTensor e = g.type(r.getInput(1)).elementCount() == 1 ? g.constant(r.getInput(1)) : null;
            return e != null && e.getDouble(0) == 2;
        }
        return FusionGraph.is(r, "Mul") && r.getInput(0).equals(d) && r.getInput(1).equals(d);
    }

    /** {@code d / std}, {@code d * Reciprocal(std)} or {@code d * (1 / std)}; adds the reciprocal to the pattern. */
    private static boolean isNormalize(FusionGraph g, NodeProto r, String d, String std, Set<NodeProto> pattern) {
        if (FusionGraph.is(r, "Div")) {
            return r.getInput(0).equals(d) && r.getInput(1).equals(std) && g.onlyFeeds(std, r);
        }
        if (!FusionGraph.is(r, "Mul")) {
            return false;
        }
        String inv = other(r, d);
        NodeProto p = g.producer(inv);
        if (p == null || !g.onlyFeeds(inv, r) || !g.onlyFeeds(std, p)) {
            return false;
        }
        boolean reciprocal = FusionGraph.is(p, "Reciprocal")
                || FusionGraph.is(p, "Div") && p.getInput(1).equals(std) && Double.valueOf(1).equals(g.scalar(p.getInput(0)));
        if (reciprocal) {
            pattern.add(p);
        }
        return reciprocal;
    }

    /** {@code value * c} or {@code value + c} for a constant c of exactly the normalized dims. */
    private static boolean isAffine(FusionGraph g, NodeProto n, String value, long[] normalized, TensorType x) {
        if (n.getInputCount() != 2 || n.getInput(0).equals(n.getInput(1)) || !x.equals(g.type(n.getOutput(0)))) {
            return false;
        }
        String c = other(n, value);
        TensorType t = g.type(c);
        return g.isInitializer(c) && t.elemType() == x.elemType() && Arrays.equals(t.dims(), normalized);
    }
}
