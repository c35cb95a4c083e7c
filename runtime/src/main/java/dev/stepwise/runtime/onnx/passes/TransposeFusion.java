package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.List;

/**
 * {@code Transpose(Transpose(x, p1), p2)} becomes one {@code Transpose(x, p)} with {@code p[i] = p1[p2[i]]}, or
 * nothing when p is the identity. A Transpose that only moves axes of size 1 (the other axes keep their order, as
 * in {@code [B, 1, H, D] -> [B, H, 1, D]} at a decode step) moves no data: it becomes a Reshape, which
 * {@link ReshapeFusion} then merges with the Reshapes around it. Exact.
 *
 * <p>A Transpose of a constant is folded by {@link ConstantFolding} up to its cap (1M elements); a larger one is a
 * weight and is never rewritten (weights live in the shared external file) — a rank-2 MatMul reading it gets Gemm's
 * {@code transB} instead ({@link GemmFusion}).
 */
final class TransposeFusion {

    /** Makes this fusion's rewrites on {@code g}; returns how many. */
    static int apply(FusionGraph g) {
        int n = 0;
        for (NodeProto t : g.nodes()) {
            if (!FusionGraph.is(t, "Transpose") || g.isReplaced(t)) {
                continue;
            }
            TensorType in = g.type(t.getInput(0));
            TensorType out = g.type(t.getOutput(0));
            if (in == null || out == null) {
                continue;
            }
            int[] p2 = perm(t, in.rank());
            NodeProto inner = g.producer(t.getInput(0), "Transpose");
            if (inner != null) {
                TensorType src = g.type(inner.getInput(0));
                int[] p1 = perm(inner, src.rank());
                long[] p = new long[p2.length];
                boolean identity = true;
                for (int i = 0; i < p.length; i++) {
                    p[i] = p1[p2[i]];
                    identity &= p[i] == i;
                }
                g.replace(t, identity ? g.identity(t, inner.getInput(0), t.getOutput(0))
                        : g.node(t, "Transpose", List.of(inner.getInput(0)), t.getOutput(0), Attributes.ints("perm", p)));
                n++;
            } else if (movesOnlyUnitAxes(p2, in) && out.elementCount() > 0) {
                g.replace(t, g.reshape(t, t.getInput(0), out.dims(), t.getOutput(0)));
                n++;
            }
        }
        return n;
    }

    /** The perm attribute, or the reversal it defaults to. */
    static int[] perm(NodeProto t, int rank) {
        long[] p = Attrs.getInts(t, "perm");
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            out[i] = p == null ? rank - 1 - i : (int) (p[i] < 0 ? p[i] + rank : p[i]);
        }
        return out;
    }

    /** Whether the axes of size other than 1 keep their relative order (so the data order does not change). */
    static boolean movesOnlyUnitAxes(int[] perm, TensorType in) {
        int last = -1;
        boolean moves = false;
        for (int i = 0; i < perm.length; i++) {
            moves |= perm[i] != i;
            if (in.dim(perm[i]) == 1) {
                continue;
            }
            if (perm[i] < last) {
                return false;
            }
            last = perm[i];
        }
        return moves;
    }
}
