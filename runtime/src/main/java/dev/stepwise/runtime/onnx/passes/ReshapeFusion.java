package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * A chain of Reshape, Flatten, Squeeze and Unsqueeze nodes moves no data, so the last one can read the first one's
 * input: {@code Unsqueeze(Unsqueeze(x))} becomes one Unsqueeze with the axes merged, {@code Squeeze(Squeeze(x))} one
 * Squeeze, any other mix one Reshape to the chain's static output dims, and a chain that ends where it started
 * nothing at all. Exact. The earlier nodes go when nothing else reads them.
 */
final class ReshapeFusion {

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        for (NodeProto node : g.nodes()) {
            if (!FusionGraph.isStandard(node) || !FusionGraph.RESHAPES.contains(node.getOpType()) || g.isReplaced(node)) {
                continue;
            }
            NodeProto inner = g.producer(node.getInput(0), FusionGraph.RESHAPES);
            if (inner == null) {
                continue;
            }
            String src = inner.getInput(0);
            TensorType from = g.type(src);
            TensorType to = g.type(node.getOutput(0));
            NodeProto r = rewrite(g, node, inner, src, from, to);
            if (r != null) {
                g.replace(node, r);
                n++;
            }
        }
        return n;
    }

    private static NodeProto rewrite(FusionGraph g, NodeProto node, NodeProto inner, String src, TensorType from,
                                     TensorType to) {
        String out = node.getOutput(0);
        if (Arrays.equals(from.dims(), to.dims())) {
            return g.identity(node, src, out);
        }
        String op = node.getOpType();
        if (op.equals(inner.getOpType()) && (op.equals("Unsqueeze") || op.equals("Squeeze"))) {
            long[] a1 = g.axes(inner, 1);
            long[] a2 = g.axes(node, 1);
            boolean known = (a1 != null || !FusionGraph.hasAxes(inner, 1)) && (a2 != null || !FusionGraph.hasAxes(node, 1));
            TensorType mid = g.type(inner.getOutput(0));
            long[] merged = !known ? null : op.equals("Unsqueeze") ? mergeUnsqueeze(a1, a2, to.rank())
                    : mergeSqueeze(a1, a2, from, mid);
            if (merged != null) {
                return g.withAxes(node, op, src, merged, out);
            }
        }
        for (long d : to.dims()) {
            if (d == 0) {
                return null; // a 0 in a Reshape target means "copy the input dim" at opset 13
            }
        }
        return g.reshape(node, src, to.dims(), out);
    }

    /** Axes (of the final output) of Unsqueeze(a2) after Unsqueeze(a1), or null when unknown. */
    static long[] mergeUnsqueeze(long[] a1, long[] a2, int outRank) {
        if (a1 == null || a2 == null) {
            return null;
        }
        TreeSet<Long> second = normalize(a2, outRank);
        List<Long> kept = new ArrayList<>(); // output positions that come from the intermediate, in order
        for (long i = 0; i < outRank; i++) {
            if (!second.contains(i)) {
                kept.add(i);
            }
        }
        TreeSet<Long> merged = new TreeSet<>(second);
        for (long a : normalize(a1, kept.size())) {
            merged.add(kept.get((int) a));
        }
        return merged.stream().mapToLong(Long::longValue).toArray();
    }

    /** Axes (of the first input) of Squeeze(a2) after Squeeze(a1); absent axes mean every dim of size 1. */
    static long[] mergeSqueeze(long[] a1, long[] a2, TensorType in, TensorType mid) {
        TreeSet<Long> first = a1 == null ? unitAxes(in) : normalize(a1, in.rank());
        List<Long> kept = new ArrayList<>(); // input positions that survive the first Squeeze, in order
        for (long i = 0; i < in.rank(); i++) {
            if (!first.contains(i)) {
                kept.add(i);
            }
        }
        TreeSet<Long> merged = new TreeSet<>(first);
        for (long a : a2 == null ? unitAxes(mid) : normalize(a2, mid.rank())) {
            merged.add(kept.get((int) a));
        }
        return merged.stream().mapToLong(Long::longValue).toArray();
    }

    private static TreeSet<Long> unitAxes(TensorType t) {
        TreeSet<Long> s = new TreeSet<>();
        for (int i = 0; i < t.rank(); i++) {
            if (t.dim(i) == 1) {
                s.add((long) i);
            }
        }
        return s;
    }

    private static TreeSet<Long> normalize(long[] axes, int rank) {
        TreeSet<Long> s = new TreeSet<>();
        for (long a : axes) {
            s.add(a < 0 ? a + rank : a);
        }
        return s;
    }
}
