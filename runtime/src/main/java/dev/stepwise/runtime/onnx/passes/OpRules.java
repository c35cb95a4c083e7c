package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Static output types of every op found in decoder exports: the standard ONNX ops by the operator spec, and the
 * {@code com.microsoft} ones (fused attention, rotary embedding, fused layer norms, GELUs) by onnxruntime's contrib
 * operator spec. Each rule returns one type per node output (null for an omitted optional output).
 */
final class OpRules {
    static final String MS = "com.microsoft";
    private static final int BOOL = DataType.BOOL_VALUE;
    private static final int INT64 = DataType.INT64_VALUE;
    private static final int INT32 = DataType.INT32_VALUE;
    private static final int FLOAT = DataType.FLOAT_VALUE;

    /** Ops whose output has the type and shape of input 0. */
    static final Set<String> SAME_AS_INPUT = Set.of("Identity", "Neg", "Abs", "Sqrt", "Exp", "Log", "Erf", "Tanh",
            "Sigmoid", "Relu", "Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
            "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus", "Softsign", "Elu", "Selu", "Celu", "LeakyRelu",
            "HardSigmoid", "HardSwish", "Mish", "Gelu", "Sign", "Softmax", "LogSoftmax", "Hardmax", "Clip",
            "CumSum", "Trilu", "ThresholdedRelu", "Shrink", "PRelu", "BitwiseNot");
    static final Set<String> BROADCAST = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum",
            "Mean", "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor");
    static final Set<String> COMPARE = Set.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual");
    static final Set<String> REDUCE = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");
    /** Contrib ops whose output 0 has the type and shape of input 0. */
    static final Set<String> MS_SAME_AS_INPUT = Set.of("FastGelu", "BiasGelu", "Gelu", "QuickGelu", "BiasAdd",
            "RotaryEmbedding", "GemmaRotaryEmbedding", "BiasSoftmax");

    private OpRules() {
    }

    /** Whether a rule exists for the op (the If node is handled by the graph walker). */
    static boolean isKnown(String domain, String op) {
        if (MS.equals(domain)) {
            return MS_SAME_AS_INPUT.contains(op) || Set.of("MultiHeadAttention", "GroupQueryAttention", "Attention",
                    "EmbedLayerNormalization", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
                    "SimplifiedLayerNormalization", "LayerNormalization", "FusedMatMul", "Trilu", "GatherND",
                    "Range").contains(op);
        }
        return SAME_AS_INPUT.contains(op) || BROADCAST.contains(op) || COMPARE.contains(op) || REDUCE.contains(op)
                || STANDARD.contains(op);
    }

    private static final Set<String> STANDARD = Set.of("Not", "IsNaN", "IsInf", "Where", "Cast", "CastLike",
            "MatMul", "Gemm", "LayerNormalization", "SimplifiedLayerNormalization", "ArgMax", "ArgMin", "Reshape",
            "Flatten", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "Unsqueeze",
            "Squeeze", "Expand", "Shape", "Size", "ConstantOfShape", "Range", "Constant", "Tile", "Pad",
            "ScatterND", "ScatterElements", "Einsum", "TopK", "Dropout", "OneHot", "SkipSimplifiedLayerNormalization",
            "RMSNormalization", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger");

    static List<TensorType> infer(NodeContext c) {
        String op = c.node.getOpType();
        String domain = c.node.getDomain();
        if (MS.equals(domain)) {
            return contrib(c, op);
        }
        if (SAME_AS_INPUT.contains(op)) {
            return one(c.type(0));
        }
        if (BROADCAST.contains(op)) {
            long[][] shapes = new long[c.inputCount()][];
            for (int i = 0; i < shapes.length; i++) {
                shapes[i] = c.dims(i);
            }
            return one(TensorType.of(c.elemType(0), broadcast(c, shapes)));
        }
        if (COMPARE.contains(op)) {
            return one(TensorType.of(BOOL, broadcast(c, c.dims(0), c.dims(1))));
        }
        if (REDUCE.contains(op)) {
            return one(reduce(c, op));
        }
        return switch (op) {
            case "Not" -> one(c.type(0));
            case "IsNaN", "IsInf" -> one(c.type(0).withElemType(BOOL));
            case "Where" -> one(TensorType.of(c.elemType(1), broadcast(c, c.dims(0), c.dims(1), c.dims(2))));
            case "Cast" -> one(c.type(0).withElemType((int) c.attrInt("to", 0)));
            case "CastLike" -> one(c.type(0).withElemType(c.elemType(1)));
            case "MatMul" -> one(TensorType.of(c.elemType(0), matmul(c, c.dims(0), c.dims(1))));
            case "Gemm" -> one(gemm(c));
            case "LayerNormalization" -> layerNorm(c, true);
            case "SimplifiedLayerNormalization", "RMSNormalization" -> layerNorm(c, false);
            case "SkipSimplifiedLayerNormalization" -> skipLayerNorm(c);
            case "ArgMax", "ArgMin" -> one(argReduce(c));
            case "Reshape" -> one(reshape(c));
            case "Flatten" -> one(flatten(c));
            case "Transpose" -> one(transpose(c));
            case "Concat" -> one(concat(c));
            case "Split" -> split(c);
            case "Slice" -> one(slice(c));
            case "Gather" -> one(gather(c));
            case "GatherElements" -> one(TensorType.of(c.elemType(0), c.dims(1)));
            case "GatherND" -> one(gatherNd(c));
            case "Unsqueeze" -> one(unsqueeze(c));
            case "Squeeze" -> one(squeeze(c));
            case "Expand" -> one(TensorType.of(c.elemType(0), broadcast(c, c.dims(0), c.longs(1, "shape"))));
            case "Shape" -> one(TensorType.of(INT64, shapeRange(c)[1] - shapeRange(c)[0]));
            case "Size" -> one(TensorType.of(INT64));
            case "ConstantOfShape" -> one(constantOfShape(c));
            case "Range" -> one(TensorType.of(c.elemType(0), rangeLength(c)));
            case "Constant" -> one(constantType(c));
            case "Tile" -> one(tile(c));
            case "Pad" -> one(pad(c));
            case "ScatterND", "ScatterElements" -> one(c.type(0));
            case "Einsum" -> one(einsum(c));
            case "TopK" -> topK(c);
            case "Dropout" -> List.of(c.type(0), c.type(0).withElemType(BOOL));
            case "OneHot" -> one(oneHot(c));
            // int8 quantization (stepwise quantize): the zero point's type, else uint8; the scale's type back
            case "QuantizeLinear" -> one(c.type(0).withElemType(c.has(2) ? c.elemType(2) : DataType.UINT8_VALUE));
            case "DequantizeLinear" -> one(c.type(0).withElemType(c.elemType(1)));
            case "DynamicQuantizeLinear" -> List.of(c.type(0).withElemType(DataType.UINT8_VALUE), TensorType.of(FLOAT),
                    TensorType.of(DataType.UINT8_VALUE));
            case "MatMulInteger" -> one(TensorType.of(INT32, matmul(c, c.dims(0), c.dims(1))));
            default -> throw c.fail("no shape rule for this op; Stepwise cannot make it static");
        };
    }

    // ---- contrib ops (onnxruntime's com.microsoft domain) ----

    private static List<TensorType> contrib(NodeContext c, String op) {
        if (MS_SAME_AS_INPUT.contains(op)) {
            return one(c.type(0));
        }
        return switch (op) {
            case "MultiHeadAttention" -> multiHeadAttention(c);
            case "GroupQueryAttention" -> groupQueryAttention(c);
            case "Attention" -> attention(c);
            case "EmbedLayerNormalization" -> embedLayerNorm(c);
            case "SkipLayerNormalization", "SkipSimplifiedLayerNormalization" -> skipLayerNorm(c);
            case "SimplifiedLayerNormalization" -> layerNorm(c, false);
            case "LayerNormalization" -> layerNorm(c, true);
            case "FusedMatMul" -> one(fusedMatMul(c));
            case "Trilu" -> one(c.type(0));
            case "GatherND" -> one(gatherNd(c));
            case "Range" -> one(TensorType.of(c.elemType(0), rangeLength(c)));
            default -> throw c.fail("no shape rule for this com.microsoft op; Stepwise cannot make it static");
        };
    }

    /**
     * query (B, S, D) or packed (B, S, N, 3, H); key (B, L, D), (B, N, L, H) or absent (packed); past_key
     * (B, N, P, H). Outputs: (B, S, Dv), present_key (B, N, P + L, H), present_value (B, N, P + L, Hv).
     */
    private static List<TensorType> multiHeadAttention(NodeContext c) {
        int n = (int) c.attrInt("num_heads", 0);
        if (n <= 0) {
            throw c.fail("num_heads must be positive");
        }
        TensorType q = c.type(0);
        long b = q.dim(0);
        long s = q.dim(1);
        long head;
        long vHead;
        long kvLen;
        boolean kvFromPast = false;
        if (q.rank() == 5) { // packed QKV (B, S, N, 3, H)
            head = q.dim(4);
            vHead = head;
            kvLen = s;
        } else if (!c.has(1)) {
            throw c.fail("key is required unless the query is packed (rank 5)");
        } else {
            TensorType k = c.type(1);
            head = q.dim(2) / n;
            if (k.rank() == 5) { // packed KV (B, L, N, 2, H)
                kvLen = k.dim(1);
                vHead = k.dim(4);
            } else if (k.rank() == 4) { // (B, N, L, H): keys already in the cache layout
                kvLen = k.dim(2);
                kvFromPast = true;
                TensorType v = c.type(2);
                vHead = v.rank() == 4 ? v.dim(3) : v.dim(2) / n;
            } else {
                kvLen = k.dim(1);
                TensorType v = c.type(2);
                vHead = v.rank() == 4 ? v.dim(3) : v.dim(2) / n;
            }
        }
        long past = !kvFromPast && c.has(6) ? c.type(6).dim(2) : 0;
        int t = q.elemType();
        List<TensorType> out = new ArrayList<>();
        out.add(TensorType.of(t, b, s, n * vHead));
        out.add(TensorType.of(t, b, n, past + kvLen, head));
        out.add(TensorType.of(t, b, n, past + kvLen, vHead));
        out.add(TensorType.of(q.elemType(), b, n, s, past + kvLen)); // qk (newer versions)
        return trim(c, out);
    }

    /**
     * query (B, S, D) or packed (B, S, (N + 2 KV) H); past_key (B, KV, P, H); total_sequence_length a scalar.
     * Outputs (B, S, N H), present_key/value (B, KV, max(P, total), H).
     */
    private static List<TensorType> groupQueryAttention(NodeContext c) {
        int n = (int) c.attrInt("num_heads", 0);
        int kv = (int) c.attrInt("kv_num_heads", 0);
        if (n <= 0 || kv <= 0) {
            throw c.fail("num_heads and kv_num_heads must be positive");
        }
        TensorType q = c.type(0);
        long b = q.dim(0);
        long s = q.dim(1);
        long head = c.has(1) ? q.dim(2) / n : q.dim(2) / (n + 2L * kv);
        long total = c.has(6) ? c.value(6, "total_sequence_length").getLong(0) : s;
        long past = c.has(3) ? c.type(3).dim(2) : 0;
        long present = Math.max(past, total);
        int t = q.elemType();
        return trim(c, List.of(TensorType.of(t, b, s, n * head), TensorType.of(t, b, kv, present, head),
                TensorType.of(t, b, kv, present, head)));
    }

    /** input (B, S, Din), weights (Din, D + D + Dv); past (2, B, N, P, H). Outputs (B, S, Dv), present. */
    private static List<TensorType> attention(NodeContext c) {
        int n = (int) c.attrInt("num_heads", 0);
        if (n <= 0) {
            throw c.fail("num_heads must be positive");
        }
        TensorType x = c.type(0);
        long[] w = c.dims(1);
        long[] sizes = c.attrInts("qkv_hidden_sizes");
        long hidden;
        long vHidden;
        if (sizes != null && sizes.length == 3) {
            hidden = sizes[0];
            vHidden = sizes[2];
        } else {
            hidden = w[w.length - 1] / 3;
            vHidden = hidden;
        }
        long b = x.dim(0);
        long s = x.dim(1);
        long past = c.has(4) ? c.type(4).dim(3) : 0;
        if (c.attrInt("past_present_share_buffer", 0) != 0 && c.has(4)) {
            return trim(c, List.of(TensorType.of(x.elemType(), b, s, vHidden), c.type(4)));
        }
        return trim(c, List.of(TensorType.of(x.elemType(), b, s, vHidden),
                TensorType.of(x.elemType(), 2, b, n, past + s, hidden / n)));
    }

    /** input_ids (B, S); word_embedding (V, H). Outputs (B, S, H), mask_index int32 (B), embedding_sum (B, S, H). */
    private static List<TensorType> embedLayerNorm(NodeContext c) {
        long[] ids = c.dims(0);
        TensorType word = c.type(2);
        long h = word.dim(1);
        return trim(c, List.of(TensorType.of(word.elemType(), ids[0], ids[1], h), TensorType.of(INT32, ids[0]),
                TensorType.of(word.elemType(), ids[0], ids[1], h)));
    }

    /** Outputs: output (shape of input), mean and inv_std_var (input with a last dim of 1, float), input+skip sum. */
    private static List<TensorType> skipLayerNorm(NodeContext c) {
        TensorType x = c.type(0);
        long[] stat = x.dims();
        stat[stat.length - 1] = 1;
        return trim(c, List.of(x, TensorType.of(FLOAT, stat), TensorType.of(FLOAT, stat), x));
    }

    /** Outputs: Y (shape of X), then Mean and InvStdDev (X with the normalized axes set to 1), in the stash type. */
    private static List<TensorType> layerNorm(NodeContext c, boolean withMean) {
        TensorType x = c.type(0);
        int axis = c.normalizeAxis(c.attrInt("axis", -1), x.rank());
        long[] stat = x.dims();
        for (int i = axis; i < stat.length; i++) {
            stat[i] = 1;
        }
        int stash = c.attrInt("stash_type", 1) == 1 ? FLOAT : x.elemType();
        TensorType s = TensorType.of(stash, stat);
        return trim(c, withMean ? List.of(x, s, s) : List.of(x, s));
    }

    private static TensorType fusedMatMul(NodeContext c) {
        long[] a = c.dims(0);
        long[] b = c.dims(1);
        if (c.attrInt("transA", 0) != 0) {
            a = swapLast(a);
        }
        if (c.attrInt("transB", 0) != 0) {
            b = swapLast(b);
        }
        return TensorType.of(c.elemType(0), matmul(c, a, b));
    }

    private static long[] swapLast(long[] d) {
        long[] o = d.clone();
        if (o.length >= 2) {
            o[o.length - 1] = d[d.length - 2];
            o[o.length - 2] = d[d.length - 1];
        }
        return o;
    }

    // ---- standard ops ----

    static long[] broadcast(NodeContext c, long[]... shapes) {
        int rank = 0;
        for (long[] s : shapes) {
            rank = Math.max(rank, s.length);
        }
        long[] out = new long[rank];
        Arrays.fill(out, 1);
        for (long[] s : shapes) {
            for (int i = 0; i < s.length; i++) {
                int o = rank - s.length + i;
                long d = s[i];
                if (out[o] == 1) {
                    out[o] = d;
                } else if (d != 1 && d != out[o]) {
                    throw c.fail("shapes " + describe(shapes) + " do not broadcast");
                }
            }
        }
        return out;
    }

    private static String describe(long[][] shapes) {
        StringBuilder sb = new StringBuilder();
        for (long[] s : shapes) {
            sb.append(sb.length() == 0 ? "" : ", ").append(Arrays.toString(s));
        }
        return sb.toString();
    }

    static long[] matmul(NodeContext c, long[] a, long[] b) {
        if (a.length == 0 || b.length == 0) {
            throw c.fail("MatMul of a scalar");
        }
        long[] aa = a.length == 1 ? new long[] {1, a[0]} : a;
        long[] bb = b.length == 1 ? new long[] {b[0], 1} : b;
        if (aa[aa.length - 1] != bb[bb.length - 2]) {
            throw c.fail("inner dims differ: " + Arrays.toString(a) + " x " + Arrays.toString(b));
        }
        long[] batch = broadcast(c, Arrays.copyOf(aa, aa.length - 2), Arrays.copyOf(bb, bb.length - 2));
        List<Long> out = new ArrayList<>();
        for (long d : batch) {
            out.add(d);
        }
        if (a.length > 1) {
            out.add(aa[aa.length - 2]);
        }
        if (b.length > 1) {
            out.add(bb[bb.length - 1]);
        }
        return toArray(out);
    }

    private static TensorType gemm(NodeContext c) {
        long[] a = c.dims(0);
        long[] b = c.dims(1);
        long m = c.attrInt("transA", 0) != 0 ? a[1] : a[0];
        long n = c.attrInt("transB", 0) != 0 ? b[0] : b[1];
        return TensorType.of(c.elemType(0), m, n);
    }

    private static TensorType reduce(NodeContext c, String op) {
        TensorType x = c.type(0);
        boolean[] reduced = reducedAxes(c, op, x.rank());
        boolean keep = c.attrInt("keepdims", 1) != 0;
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!reduced[i]) {
                out.add(x.dim(i));
            } else if (keep) {
                out.add(1L);
            }
        }
        return TensorType.of(x.elemType(), toArray(out));
    }

    static boolean[] reducedAxes(NodeContext c, String op, int rank) {
        boolean axesInput = c.opset >= 18 || (op.equals("ReduceSum") && c.opset >= 13);
        long[] axes = axesInput ? (c.has(1) ? c.longs(1, "axes") : null) : c.attrInts("axes");
        if (!axesInput && axes == null && c.has(1)) {
            axes = c.longs(1, "axes");
        }
        boolean[] reduced = new boolean[rank];
        if (axes == null || axes.length == 0) {
            if (c.attrInt("noop_with_empty_axes", 0) == 0) {
                Arrays.fill(reduced, true);
            }
        } else {
            for (long a : axes) {
                reduced[c.normalizeAxis(a, rank)] = true;
            }
        }
        return reduced;
    }

    private static TensorType argReduce(NodeContext c) {
        TensorType x = c.type(0);
        int axis = c.normalizeAxis(c.attrInt("axis", 0), x.rank());
        long[] d = x.dims();
        if (c.attrInt("keepdims", 1) != 0) {
            d[axis] = 1;
            return TensorType.of(INT64, d);
        }
        return TensorType.of(INT64, remove(d, axis));
    }

    static long[] reshapeDims(NodeContext c, long[] in, long[] shape) {
        boolean allowZero = c.attrInt("allowzero", 0) != 0;
        long[] out = shape.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == 0 && !allowZero) {
                if (i >= in.length) {
                    throw c.fail("shape " + Arrays.toString(shape) + " copies axis " + i + " of a rank-" + in.length
                            + " input");
                }
                out[i] = in[i];
            }
            if (out[i] == -1) {
                if (inferred >= 0) {
                    throw c.fail("shape " + Arrays.toString(shape) + " has more than one -1");
                }
                inferred = i;
            } else if (out[i] < 0) {
                throw c.fail("shape " + Arrays.toString(shape) + " has a negative dim");
            } else {
                known *= out[i];
            }
        }
        long total = OnnxTypes.elementCount(in);
        if (inferred >= 0) {
            if (known == 0 || total % known != 0) {
                throw c.fail("cannot reshape " + Arrays.toString(in) + " to " + Arrays.toString(shape));
            }
            out[inferred] = total / known;
        } else if (known != total) {
            throw c.fail("cannot reshape " + Arrays.toString(in) + " (" + total + " elements) to "
                    + Arrays.toString(shape));
        }
        return out;
    }

    private static TensorType reshape(NodeContext c) {
        long[] shape = c.has(1) ? c.longs(1, "shape") : c.attrInts("shape");
        if (shape == null) {
            throw c.fail("no shape");
        }
        return TensorType.of(c.elemType(0), reshapeDims(c, c.dims(0), shape));
    }

    private static TensorType flatten(NodeContext c) {
        long[] d = c.dims(0);
        int axis = (int) c.attrInt("axis", 1);
        if (axis < 0) {
            axis += d.length;
        }
        long outer = 1;
        long inner = 1;
        for (int i = 0; i < d.length; i++) {
            if (i < axis) {
                outer *= d[i];
            } else {
                inner *= d[i];
            }
        }
        return TensorType.of(c.elemType(0), outer, inner);
    }

    static int[] perm(NodeContext c, int rank) {
        long[] p = c.attrInts("perm");
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            out[i] = p == null ? rank - 1 - i : c.normalizeAxis(p[i], rank);
        }
        if (p != null && p.length != rank) {
            throw c.fail("perm " + Arrays.toString(p) + " does not match rank " + rank);
        }
        return out;
    }

    private static TensorType transpose(NodeContext c) {
        long[] d = c.dims(0);
        int[] p = perm(c, d.length);
        return TensorType.of(c.elemType(0), IntStream.range(0, d.length).mapToLong(i -> d[p[i]]).toArray());
    }

    private static TensorType concat(NodeContext c) {
        long[] first = c.dims(0);
        int axis = c.normalizeAxis(c.attrInt("axis", 0), first.length);
        long[] out = first.clone();
        out[axis] = 0;
        for (int i = 0; i < c.inputCount(); i++) {
            long[] d = c.dims(i);
            if (d.length != first.length) {
                throw c.fail("inputs have ranks " + first.length + " and " + d.length);
            }
            for (int a = 0; a < d.length; a++) {
                if (a != axis && d[a] != first[a]) {
                    throw c.fail("inputs differ on axis " + a + ": " + Arrays.toString(first) + " and "
                            + Arrays.toString(d));
                }
            }
            out[axis] += d[axis];
        }
        return TensorType.of(c.elemType(0), out);
    }

    /** Sizes of a Split's outputs along its axis. */
    static long[] splitSizes(NodeContext c, long length) {
        long[] sizes = c.has(1) ? c.longs(1, "split") : c.attrInts("split");
        int outputs = c.node.getOutputCount();
        if (sizes == null) {
            long num = c.attrInt("num_outputs", outputs);
            long chunk = (length + num - 1) / num;
            sizes = new long[(int) num];
            long left = length;
            for (int i = 0; i < num; i++) {
                sizes[i] = Math.min(chunk, left);
                left -= sizes[i];
            }
        }
        long sum = 0;
        for (long s : sizes) {
            sum += s;
        }
        if (sum != length || sizes.length != outputs) {
            throw c.fail("split " + Arrays.toString(sizes) + " does not divide a length of " + length + " into "
                    + outputs + " outputs");
        }
        return sizes;
    }

    private static List<TensorType> split(NodeContext c) {
        TensorType x = c.type(0);
        int axis = c.normalizeAxis(c.attrInt("axis", 0), x.rank());
        long[] sizes = splitSizes(c, x.dim(axis));
        List<TensorType> out = new ArrayList<>();
        for (long s : sizes) {
            long[] d = x.dims();
            d[axis] = s;
            out.add(TensorType.of(x.elemType(), d));
        }
        return out;
    }

    /** Per axis of the input: start, step, count of a Slice (all axes; untouched ones are 0, 1, dim). */
    static long[][] sliceRanges(NodeContext c, long[] d) {
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps = null;
        if (c.opset < 10 && !c.has(1)) {
            starts = c.attrInts("starts");
            ends = c.attrInts("ends");
            axes = c.attrInts("axes");
        } else {
            starts = c.longs(1, "starts");
            ends = c.longs(2, "ends");
            axes = c.has(3) ? c.longs(3, "axes") : null;
            steps = c.has(4) ? c.longs(4, "steps") : null;
        }
        long[][] r = new long[d.length][];
        for (int i = 0; i < d.length; i++) {
            r[i] = new long[] {0, 1, d[i]};
        }
        for (int k = 0; k < starts.length; k++) {
            int axis = axes == null ? k : c.normalizeAxis(axes[k], d.length);
            long step = steps == null ? 1 : steps[k];
            if (step == 0) {
                throw c.fail("a step of 0");
            }
            long dim = d[axis];
            long start = starts[k];
            long end = ends[k];
            if (start < 0) {
                start += dim;
            }
            if (end < 0 && end > Long.MIN_VALUE / 2) {
                end += dim;
            }
            long count;
            if (step > 0) {
                start = clamp(start, 0, dim);
                end = clamp(end, 0, dim);
                count = end > start ? (end - start + step - 1) / step : 0;
            } else {
                start = clamp(start, 0, dim - 1);
                end = clamp(end, -1, dim - 1);
                count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
            }
            r[axis] = new long[] {start, step, count};
        }
        return r;
    }

    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static TensorType slice(NodeContext c) {
        long[] d = c.dims(0);
        long[][] r = sliceRanges(c, d);
        long[] out = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = r[i][2];
        }
        return TensorType.of(c.elemType(0), out);
    }

    private static TensorType gather(NodeContext c) {
        long[] d = c.dims(0);
        long[] idx = c.dims(1);
        int axis = c.normalizeAxis(c.attrInt("axis", 0), d.length);
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < axis; i++) {
            out.add(d[i]);
        }
        for (long v : idx) {
            out.add(v);
        }
        for (int i = axis + 1; i < d.length; i++) {
            out.add(d[i]);
        }
        return TensorType.of(c.elemType(0), toArray(out));
    }

    private static TensorType gatherNd(NodeContext c) {
        long[] d = c.dims(0);
        long[] idx = c.dims(1);
        int batch = (int) c.attrInt("batch_dims", 0);
        long last = idx[idx.length - 1];
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < idx.length - 1; i++) {
            out.add(idx[i]);
        }
        for (int i = (int) (batch + last); i < d.length; i++) {
            out.add(d[i]);
        }
        return TensorType.of(c.elemType(0), toArray(out));
    }

    private static TensorType unsqueeze(NodeContext c) {
        long[] d = c.dims(0);
        long[] axes = c.axes(1, "axes");
        if (axes == null) {
            throw c.fail("no axes");
        }
        int rank = d.length + axes.length;
        boolean[] inserted = new boolean[rank];
        for (long a : axes) {
            int n = c.normalizeAxis(a, rank);
            if (inserted[n]) {
                throw c.fail("axis " + a + " repeated");
            }
            inserted[n] = true;
        }
        long[] out = new long[rank];
        for (int i = 0, j = 0; i < rank; i++) {
            out[i] = inserted[i] ? 1 : d[j++];
        }
        return TensorType.of(c.elemType(0), out);
    }

    private static TensorType squeeze(NodeContext c) {
        long[] d = c.dims(0);
        long[] axes = c.axes(1, "axes");
        boolean[] removed = new boolean[d.length];
        if (axes == null) {
            for (int i = 0; i < d.length; i++) {
                removed[i] = d[i] == 1;
            }
        } else {
            for (long a : axes) {
                int n = c.normalizeAxis(a, d.length);
                if (d[n] != 1) {
                    throw c.fail("cannot squeeze axis " + a + " of size " + d[n]);
                }
                removed[n] = true;
            }
        }
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < d.length; i++) {
            if (!removed[i]) {
                out.add(d[i]);
            }
        }
        return TensorType.of(c.elemType(0), toArray(out));
    }

    /** [start, end) of the dims a Shape node returns. */
    static int[] shapeRange(NodeContext c) {
        int rank = c.type(0).rank();
        long start = c.attrInt("start", 0);
        long end = c.attrInt("end", rank);
        if (start < 0) {
            start += rank;
        }
        if (end < 0) {
            end += rank;
        }
        start = clamp(start, 0, rank);
        end = clamp(end, 0, rank);
        return new int[] {(int) start, (int) Math.max(start, end)};
    }

    private static TensorType constantOfShape(NodeContext c) {
        TensorProto value = Attrs.getTensor(c.node, "value");
        int type = value == null ? FLOAT : value.getDataType();
        long[] shape = c.longs(0, "shape");
        for (long s : shape) {
            if (s < 0) {
                throw c.fail("negative dim in shape " + Arrays.toString(shape));
            }
        }
        return TensorType.of(type, shape);
    }

    static long rangeLength(NodeContext c) {
        ConstTensor start = c.value(0, "start");
        ConstTensor limit = c.value(1, "limit");
        ConstTensor delta = c.value(2, "delta");
        if (start.isFloating()) {
            double d = delta.getDouble(0);
            if (d == 0) {
                throw c.fail("a delta of 0");
            }
            return Math.max(0, (long) Math.ceil((limit.getDouble(0) - start.getDouble(0)) / d));
        }
        long d = delta.getLong(0);
        if (d == 0) {
            throw c.fail("a delta of 0");
        }
        long span = limit.getLong(0) - start.getLong(0);
        long n = span / d + (span % d != 0 && (span > 0) == (d > 0) ? 1 : 0);
        return Math.max(0, n);
    }

    private static TensorType constantType(NodeContext c) {
        TensorProto t = Attrs.getTensor(c.node, "value");
        if (t != null) {
            return TensorType.fromTensor(t);
        }
        if (Attrs.has(c.node, "value_float")) {
            return TensorType.of(FLOAT);
        }
        if (Attrs.has(c.node, "value_int")) {
            return TensorType.of(INT64);
        }
        if (Attrs.has(c.node, "value_floats")) {
            return TensorType.of(FLOAT, Attrs.find(c.node, "value_floats").getFloatsCount());
        }
        if (Attrs.has(c.node, "value_ints")) {
            return TensorType.of(INT64, Attrs.find(c.node, "value_ints").getIntsCount());
        }
        throw c.fail("only tensor, float(s) and int(s) constants are supported");
    }

    private static TensorType tile(NodeContext c) {
        long[] d = c.dims(0);
        long[] r = c.longs(1, "repeats");
        if (r.length != d.length) {
            throw c.fail("repeats " + Arrays.toString(r) + " do not match rank " + d.length);
        }
        long[] out = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = d[i] * r[i];
        }
        return TensorType.of(c.elemType(0), out);
    }

    /** Pads as [begin..., end...] over all axes. */
    static long[] pads(NodeContext c, int rank) {
        long[] pads = c.has(1) ? c.longs(1, "pads") : c.attrInts("pads");
        if (pads == null) {
            throw c.fail("no pads");
        }
        if (c.has(3)) {
            long[] axes = c.longs(3, "axes");
            long[] full = new long[2 * rank];
            for (int k = 0; k < axes.length; k++) {
                int a = c.normalizeAxis(axes[k], rank);
                full[a] = pads[k];
                full[a + rank] = pads[k + axes.length];
            }
            return full;
        }
        return pads;
    }

    private static TensorType pad(NodeContext c) {
        long[] d = c.dims(0);
        long[] p = pads(c, d.length);
        // pads are [begin_0 .. begin_n-1, end_0 .. end_n-1]
        return TensorType.of(c.elemType(0),
                IntStream.range(0, d.length).mapToLong(i -> d[i] + p[i] + p[i + d.length]).toArray());
    }

    private static TensorType einsum(NodeContext c) {
        String eq = c.attrString("equation", "").replace(" ", "");
        String[] sides = eq.split("->", -1);
        String[] terms = sides[0].split(",", -1);
        if (terms.length != c.inputCount()) {
            throw c.fail("equation '" + eq + "' has " + terms.length + " terms for " + c.inputCount() + " inputs");
        }
        Map<Character, Long> sizes = new HashMap<>();
        long[] ellipsis = null;
        for (int t = 0; t < terms.length; t++) {
            long[] d = c.dims(t);
            String term = terms[t];
            int dots = term.indexOf("...");
            int explicit = term.replace("...", "").length();
            int ellRank = d.length - explicit;
            int axis = 0;
            for (int i = 0; i < term.length(); i++) {
                if (term.startsWith("...", i)) {
                    long[] e = Arrays.copyOfRange(d, axis, axis + ellRank);
                    ellipsis = ellipsis == null ? e : broadcast(c, ellipsis, e);
                    axis += ellRank;
                    i += 2;
                    continue;
                }
                char ch = term.charAt(i);
                long size = d[axis++];
                Long prev = sizes.get(ch);
                if (prev == null || prev == 1) {
                    sizes.put(ch, size);
                } else if (size != 1 && size != prev) {
                    throw c.fail("label '" + ch + "' has sizes " + prev + " and " + size);
                }
            }
            if (dots < 0 && ellRank != 0) {
                throw c.fail("term '" + term + "' does not match rank " + d.length);
            }
        }
        String output;
        if (sides.length > 1) {
            output = sides[1];
        } else {
            StringBuilder sb = new StringBuilder(ellipsis != null ? "..." : "");
            Map<Character, Integer> counts = new HashMap<>();
            for (char ch : sides[0].replace(",", "").replace(".", "").toCharArray()) {
                counts.merge(ch, 1, Integer::sum);
            }
            counts.keySet().stream().filter(k -> counts.get(k) == 1).sorted().forEach(sb::append);
            output = sb.toString();
        }
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < output.length(); i++) {
            if (output.startsWith("...", i)) {
                if (ellipsis != null) {
                    for (long e : ellipsis) {
                        out.add(e);
                    }
                }
                i += 2;
                continue;
            }
            Long s = sizes.get(output.charAt(i));
            if (s == null) {
                throw c.fail("output label '" + output.charAt(i) + "' is not in any input");
            }
            out.add(s);
        }
        return TensorType.of(c.elemType(0), toArray(out));
    }

    private static List<TensorType> topK(NodeContext c) {
        TensorType x = c.type(0);
        long k = c.has(1) ? c.value(1, "K").getLong(0) : c.attrInt("k", 1);
        int axis = c.normalizeAxis(c.attrInt("axis", -1), x.rank());
        long[] d = x.dims();
        d[axis] = k;
        return List.of(TensorType.of(x.elemType(), d), TensorType.of(INT64, d));
    }

    private static TensorType oneHot(NodeContext c) {
        long[] idx = c.dims(0);
        long depth = (long) c.value(1, "depth").getDouble(0);
        int rank = idx.length + 1;
        int axis = c.normalizeAxis(c.attrInt("axis", -1), rank);
        long[] out = new long[rank];
        for (int i = 0, j = 0; i < rank; i++) {
            out[i] = i == axis ? depth : idx[j++];
        }
        return TensorType.of(c.elemType(2), out);
    }

    // ---- helpers ----

    private static List<TensorType> one(TensorType t) {
        return List.of(t);
    }

    /** Keeps as many types as the node has outputs. */
    private static List<TensorType> trim(NodeContext c, List<TensorType> types) {
        int n = c.node.getOutputCount();
        if (n > types.size()) {
            throw c.fail("has " + n + " outputs; at most " + types.size() + " are defined");
        }
        return new ArrayList<>(types.subList(0, n));
    }

    static long[] toArray(List<Long> list) {
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    static long[] remove(long[] d, int axis) {
        long[] out = new long[d.length - 1];
        for (int i = 0, j = 0; i < d.length; i++) {
            if (i != axis) {
                out[j++] = d[i];
            }
        }
        return out;
    }
}
