package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongBinaryOperator;

/**
 * Evaluates one node on constant inputs, in Java, for constant folding. Covers the ops that shape arithmetic and
 * mask building use; {@link #canEvaluate} says which. Output types come from {@link OpRules}, so each kernel only
 * computes elements.
 */
final class OpEval {
    private static final int BOOL = DataType.BOOL_VALUE;
    private static final int INT64 = DataType.INT64_VALUE;

    static final Set<String> UNARY = Set.of("Neg", "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Floor", "Ceil",
            "Round", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Relu", "Sign", "Not", "IsNaN", "Softplus");
    static final Set<String> ARITHMETIC = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum",
            "Mean", "And", "Or", "Xor", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual");
    static final Set<String> OTHER = Set.of("Identity", "Cast", "CastLike", "Shape", "Size", "ConstantOfShape",
            "Constant", "Range", "Gather", "GatherElements", "Slice", "Concat", "Unsqueeze", "Squeeze", "Reshape",
            "Flatten", "Transpose", "Expand", "Tile", "Where", "Trilu", "CumSum", "ReduceSum", "ReduceMax",
            "ReduceMin", "ReduceMean", "ReduceProd", "MatMul", "Split", "Dropout");

    private OpEval() {
    }

    static boolean canEvaluate(String domain, String op) {
        if (OpRules.MS.equals(domain)) {
            return op.equals("Trilu") || op.equals("Range");
        }
        return UNARY.contains(op) || ARITHMETIC.contains(op) || OTHER.contains(op);
    }

    /** Ops whose outputs depend only on input types, not values. */
    static boolean needsOnlyTypes(String op) {
        return op.equals("Shape") || op.equals("Size");
    }

    /** The outputs, given every (non-omitted) input as a constant and the inferred output types. */
    static List<ConstTensor> eval(NodeContext c, ConstTensor[] in, List<TensorType> out) {
        String op = c.node.getOpType();
        TensorType t0 = out.get(0);
        if (UNARY.contains(op)) {
            return List.of(unary(op, in[0], t0));
        }
        if (ARITHMETIC.contains(op)) {
            ConstTensor acc = in[0];
            for (int i = 1; i < in.length; i++) {
                acc = binary(op, acc, in[i], i == in.length - 1 ? t0 : null, c);
            }
            if (op.equals("Mean")) {
                acc = unaryMap(acc, acc.type(), v -> v / in.length);
            }
            return List.of(acc);
        }
        return switch (op) {
            case "Identity" -> List.of(in[0]);
            case "Dropout" -> out.size() == 1 ? List.of(in[0]) : List.of(in[0], ConstTensor.ofLongs(BOOL,
                    in[0].dims(), filled(in[0].size(), 1)));
            case "Cast", "CastLike" -> List.of(in[0].cast(t0.elemType()));
            case "Shape" -> {
                int[] r = OpRules.shapeRange(c);
                yield List.of(ConstTensor.vector(Arrays.copyOfRange(c.dims(0), r[0], r[1])));
            }
            case "Size" -> List.of(ConstTensor.int64(new long[0], c.type(0).elementCount()));
            case "ConstantOfShape" -> List.of(constantOfShape(c, t0));
            case "Constant" -> List.of(constant(c));
            case "Range" -> List.of(range(in, t0));
            case "Gather" -> List.of(gather(c, in[0], in[1], t0));
            case "GatherElements" -> List.of(gatherElements(c, in[0], in[1], t0));
            case "Slice" -> List.of(slice(c, in[0], t0));
            case "Concat" -> List.of(concat(c, in, t0));
            case "Unsqueeze", "Squeeze", "Reshape", "Flatten" -> List.of(in[0].reshape(t0.dims()));
            case "Transpose" -> List.of(transpose(c, in[0], t0));
            case "Expand", "Tile" -> List.of(op.equals("Expand") ? expand(in[0], t0) : tile(in[0], t0));
            case "Where" -> List.of(where(in[0], in[1], in[2], t0));
            case "Trilu" -> List.of(trilu(c, in[0], in.length > 1 && in[1] != null ? in[1].getLong(0) : 0));
            case "CumSum" -> List.of(cumSum(c, in[0], in[1].getLong(0)));
            case "ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd" -> List.of(reduce(c, op, in[0], t0));
            case "MatMul" -> List.of(matmul(in[0], in[1], t0));
            case "Split" -> split(c, in[0], out);
            default -> throw c.fail("cannot be evaluated");
        };
    }

    private static long[] filled(int n, long v) {
        long[] a = new long[n];
        Arrays.fill(a, v);
        return a;
    }

    // ---- index helpers ----

    static long[] strides(long[] dims) {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }

    /** What coordinate {@code coord} along axis {@code axis} of element {@code element} adds to a flat index. */
    @FunctionalInterface
    private interface AxisOffset {
        long offset(int element, int axis, long coord);
    }

    /**
     * For each element of a tensor of {@code dims}, the sum over its axes of {@code offset}: the flat index an
     * index-moving op (slice, transpose, tile, broadcast, gather along an axis, reduce) maps the element to.
     */
    private static int[] mapIndex(long[] dims, AxisOffset offset) {
        long[] strides = strides(dims);
        int[] index = new int[(int) OnnxTypes.elementCount(dims)];
        for (int i = 0; i < index.length; i++) {
            long rem = i;
            long flat = 0;
            for (int a = 0; a < dims.length; a++) {
                long coord = rem / strides[a];
                rem %= strides[a];
                flat += offset.offset(i, a, coord);
            }
            index[i] = (int) flat;
        }
        return index;
    }

    /** For each element of {@code out}, the flat index into a tensor of {@code dims} broadcast to it. */
    static int[] broadcastIndex(long[] dims, long[] out) {
        long[] inStrides = strides(dims);
        int shift = out.length - dims.length;
        return mapIndex(out, (i, a, coord) -> a >= shift && dims[a - shift] != 1 ? coord * inStrides[a - shift] : 0);
    }

    // ---- kernels ----

    private static ConstTensor unary(String op, ConstTensor x, TensorType out) {
        if (op.equals("Not")) {
            long[] v = new long[x.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = x.getBool(i) ? 0 : 1;
            }
            return ConstTensor.ofLongs(BOOL, x.dims(), v);
        }
        if (op.equals("IsNaN")) {
            long[] v = new long[x.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = Double.isNaN(x.getDouble(i)) ? 1 : 0;
            }
            return ConstTensor.ofLongs(BOOL, x.dims(), v);
        }
        if (!x.isFloating()) {
            long[] v = new long[x.size()];
            for (int i = 0; i < v.length; i++) {
                long a = x.getLong(i);
                v[i] = switch (op) {
                    case "Neg" -> -a;
                    case "Abs" -> Math.abs(a);
                    case "Relu" -> Math.max(0, a);
                    case "Sign" -> Long.signum(a);
                    case "Floor", "Ceil", "Round" -> a;
                    default -> (long) fn(op).applyAsDouble(a);
                };
            }
            return ConstTensor.ofLongs(out.elemType(), x.dims(), v);
        }
        return unaryMap(x, out, fn(op));
    }

    private static DoubleUnaryOperator fn(String op) {
        return switch (op) {
            case "Neg" -> a -> -a;
            case "Abs" -> Math::abs;
            case "Sqrt" -> Math::sqrt;
            case "Exp" -> Math::exp;
            case "Log" -> Math::log;
            case "Reciprocal" -> a -> 1 / a;
            case "Floor" -> Math::floor;
            case "Ceil" -> Math::ceil;
            case "Round" -> Math::rint;
            case "Sin" -> Math::sin;
            case "Cos" -> Math::cos;
            case "Tanh" -> Math::tanh;
            case "Sigmoid" -> a -> 1 / (1 + Math.exp(-a));
            case "Erf" -> OpEval::erf;
            case "Relu" -> a -> Math.max(0, a);
            case "Sign" -> Math::signum;
            case "Softplus" -> a -> Math.log1p(Math.exp(a));
            default -> throw new IllegalArgumentException(op);
        };
    }

    private static ConstTensor unaryMap(ConstTensor x, TensorType out, DoubleUnaryOperator f) {
        double[] v = new double[x.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = f.applyAsDouble(x.getDouble(i));
        }
        return ConstTensor.ofDoubles(out.elemType(), x.dims(), v);
    }

    /** erf to about 1e-7: the Taylor series near zero, Abramowitz and Stegun 7.1.26 elsewhere; ample for float32. */
    static double erf(double x) {
        double t = 1 / (1 + 0.3275911 * Math.abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
                + 0.254829592) * t * Math.exp(-x * x);
        y = x >= 0 ? y : -y;
        if (Math.abs(x) < 0.5) {
            double sum = x;
            double term = x;
            for (int n = 1; n < 30; n++) {
                term *= -x * x / n;
                sum += term / (2 * n + 1);
            }
            y = 2 / Math.sqrt(Math.PI) * sum;
        }
        return y;
    }

    private static ConstTensor binary(String op, ConstTensor a, ConstTensor b, TensorType finalType, NodeContext c) {
        long[] out = OpRules.broadcast(c, a.dims(), b.dims());
        int[] ia = broadcastIndex(a.dims(), out);
        int[] ib = broadcastIndex(b.dims(), out);
        int n = ia.length;
        boolean compare = Set.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual").contains(op);
        boolean logical = Set.of("And", "Or", "Xor").contains(op);
        if (logical) {
            long[] v = new long[n];
            for (int i = 0; i < n; i++) {
                boolean x = a.getBool(ia[i]);
                boolean y = b.getBool(ib[i]);
                v[i] = switch (op) {
                    case "And" -> x && y ? 1 : 0;
                    case "Or" -> x || y ? 1 : 0;
                    default -> x ^ y ? 1 : 0;
                };
            }
            return ConstTensor.ofLongs(BOOL, out, v);
        }
        boolean floating = a.isFloating() || b.isFloating();
        if (compare) {
            long[] v = new long[n];
            for (int i = 0; i < n; i++) {
                int cmp = floating ? Double.compare(a.getDouble(ia[i]), b.getDouble(ib[i]))
                        : Long.compare(a.getLong(ia[i]), b.getLong(ib[i]));
                boolean r = switch (op) {
                    case "Equal" -> floating ? a.getDouble(ia[i]) == b.getDouble(ib[i]) : cmp == 0;
                    case "Less" -> cmp < 0;
                    case "LessOrEqual" -> cmp <= 0;
                    case "Greater" -> cmp > 0;
                    default -> cmp >= 0;
                };
                v[i] = r ? 1 : 0;
            }
            return ConstTensor.ofLongs(BOOL, out, v);
        }
        int type = a.elemType();
        if (floating) {
            DoubleBinaryOperator f = switch (op) {
                case "Add", "Sum", "Mean" -> Double::sum;
                case "Sub" -> (x, y) -> x - y;
                case "Mul" -> (x, y) -> x * y;
                case "Div" -> (x, y) -> x / y;
                case "Pow" -> Math::pow;
                case "Mod" -> c.attrInt("fmod", 0) != 0 ? (x, y) -> x % y : (x, y) -> x - Math.floor(x / y) * y;
                case "Max" -> Math::max;
                case "Min" -> Math::min;
                default -> throw c.fail("cannot be evaluated");
            };
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = f.applyAsDouble(a.getDouble(ia[i]), b.getDouble(ib[i]));
            }
            return ConstTensor.ofDoubles(type, out, v);
        }
        LongBinaryOperator f = switch (op) {
            case "Add", "Sum", "Mean" -> Long::sum;
            case "Sub" -> (x, y) -> x - y;
            case "Mul" -> (x, y) -> x * y;
            case "Div" -> (x, y) -> {
                if (y == 0) {
                    throw c.fail("integer division by zero");
                }
                return x / y;
            };
            case "Pow" -> (x, y) -> (long) Math.pow(x, y);
            case "Mod" -> (x, y) -> {
                if (y == 0) {
                    throw c.fail("integer modulo by zero");
                }
                return c.attrInt("fmod", 0) != 0 ? x % y : Math.floorMod(x, y);
            };
            case "Max" -> Math::max;
            case "Min" -> Math::min;
            default -> throw c.fail("cannot be evaluated");
        };
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = f.applyAsLong(a.getLong(ia[i]), b.getLong(ib[i]));
        }
        return ConstTensor.ofLongs(type, out, v);
    }

    private static ConstTensor constantOfShape(NodeContext c, TensorType t) {
        TensorProto value = Attrs.getTensor(c.node, "value");
        double fill = 0;
        if (value != null) {
            fill = ConstTensor.fromProto(value, InitializerData.read(value, null)).getDouble(0);
        }
        int n = (int) t.elementCount();
        double[] v = new double[n];
        Arrays.fill(v, fill);
        return ConstTensor.ofDoubles(t.elemType(), t.dims(), v);
    }

    static ConstTensor constant(NodeContext c) {
        TensorProto t = Attrs.getTensor(c.node, "value");
        if (t != null) {
            return ConstTensor.fromProto(t, InitializerData.read(t, null));
        }
        if (Attrs.has(c.node, "value_float")) {
            return ConstTensor.scalar(DataType.FLOAT_VALUE, c.attrFloat("value_float", 0));
        }
        if (Attrs.has(c.node, "value_int")) {
            return ConstTensor.int64(new long[0], c.attrInt("value_int", 0));
        }
        if (Attrs.has(c.node, "value_floats")) {
            List<Float> f = Attrs.find(c.node, "value_floats").getFloatsList();
            double[] v = new double[f.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = f.get(i);
            }
            return ConstTensor.ofDoubles(DataType.FLOAT_VALUE, new long[] {v.length}, v);
        }
        if (Attrs.has(c.node, "value_ints")) {
            return ConstTensor.vector(c.attrInts("value_ints"));
        }
        throw c.fail("only tensor, float(s) and int(s) constants are supported");
    }

    private static ConstTensor range(ConstTensor[] in, TensorType t) {
        int n = (int) t.elementCount();
        if (in[0].isFloating()) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = in[0].getDouble(0) + i * in[2].getDouble(0);
            }
            return ConstTensor.ofDoubles(t.elemType(), t.dims(), v);
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = in[0].getLong(0) + i * in[2].getLong(0);
        }
        return ConstTensor.ofLongs(t.elemType(), t.dims(), v);
    }

    private static ConstTensor gather(NodeContext c, ConstTensor data, ConstTensor indices, TensorType t) {
        long[] d = data.dims();
        int axis = c.normalizeAxis(c.attrInt("axis", 0), d.length);
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= d[i];
        }
        long inner = 1;
        for (int i = axis + 1; i < d.length; i++) {
            inner *= d[i];
        }
        int k = indices.size();
        int[] index = new int[(int) t.elementCount()];
        int p = 0;
        for (long o = 0; o < outer; o++) {
            for (int j = 0; j < k; j++) {
                long idx = indices.getLong(j);
                if (idx < 0) {
                    idx += d[axis];
                }
                if (idx < 0 || idx >= d[axis]) {
                    throw c.fail("index " + indices.getLong(j) + " is out of range for a dim of " + d[axis]);
                }
                for (long in = 0; in < inner; in++) {
                    index[p++] = (int) ((o * d[axis] + idx) * inner + in);
                }
            }
        }
        return data.gather(t.dims(), index);
    }

    private static ConstTensor gatherElements(NodeContext c, ConstTensor data, ConstTensor indices, TensorType t) {
        long[] d = data.dims();
        long[] id = indices.dims();
        int axis = c.normalizeAxis(c.attrInt("axis", 0), d.length);
        long[] ds = strides(d);
        int[] index = mapIndex(id, (i, a, coord) -> {
            long at = a != axis ? coord : indices.getLong(i) < 0 ? indices.getLong(i) + d[a] : indices.getLong(i);
            return at * ds[a];
        });
        return data.gather(t.dims(), index);
    }

    private static ConstTensor slice(NodeContext c, ConstTensor x, TensorType t) {
        long[] d = x.dims();
        long[][] r = OpRules.sliceRanges(c, d);
        long[] xs = strides(d);
        return x.gather(t.dims(), mapIndex(t.dims(), (i, a, coord) -> (r[a][0] + coord * r[a][1]) * xs[a]));
    }

    private static ConstTensor concat(NodeContext c, ConstTensor[] in, TensorType t) {
        long[] out = t.dims();
        int axis = c.normalizeAxis(c.attrInt("axis", 0), out.length);
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= out[i];
        }
        long inner = 1;
        for (int i = axis + 1; i < out.length; i++) {
            inner *= out[i];
        }
        boolean floating = ConstTensor.isFloating(t.elemType());
        int n = (int) t.elementCount();
        double[] rv = floating ? new double[n] : null;
        long[] lv = floating ? null : new long[n];
        int p = 0;
        for (long o = 0; o < outer; o++) {
            for (ConstTensor x : in) {
                long chunk = x.dims()[axis] * inner;
                for (long j = 0; j < chunk; j++) {
                    int src = (int) (o * chunk + j);
                    if (floating) {
                        rv[p++] = x.getDouble(src);
                    } else {
                        lv[p++] = x.getLong(src);
                    }
                }
            }
        }
        return floating ? ConstTensor.ofDoubles(t.elemType(), out, rv) : ConstTensor.ofLongs(t.elemType(), out, lv);
    }

    private static ConstTensor transpose(NodeContext c, ConstTensor x, TensorType t) {
        long[] d = x.dims();
        int[] p = OpRules.perm(c, d.length);
        long[] xs = strides(d);
        return x.gather(t.dims(), mapIndex(t.dims(), (i, a, coord) -> coord * xs[p[a]]));
    }

    private static ConstTensor expand(ConstTensor x, TensorType t) {
        return x.gather(t.dims(), broadcastIndex(x.dims(), t.dims()));
    }

    private static ConstTensor tile(ConstTensor x, TensorType t) {
        long[] d = x.dims();
        long[] xs = strides(d);
        return x.gather(t.dims(), mapIndex(t.dims(), (i, a, coord) -> (coord % d[a]) * xs[a]));
    }

    private static ConstTensor where(ConstTensor cond, ConstTensor x, ConstTensor y, TensorType t) {
        long[] out = t.dims();
        int[] ic = broadcastIndex(cond.dims(), out);
        int[] ix = broadcastIndex(x.dims(), out);
        int[] iy = broadcastIndex(y.dims(), out);
        int n = ic.length;
        if (ConstTensor.isFloating(t.elemType())) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = cond.getBool(ic[i]) ? x.getDouble(ix[i]) : y.getDouble(iy[i]);
            }
            return ConstTensor.ofDoubles(t.elemType(), out, v);
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = cond.getBool(ic[i]) ? x.getLong(ix[i]) : y.getLong(iy[i]);
        }
        return ConstTensor.ofLongs(t.elemType(), out, v);
    }

    private static ConstTensor trilu(NodeContext c, ConstTensor x, long k) {
        boolean upper = c.attrInt("upper", 1) != 0;
        long[] d = x.dims();
        long rows = d[d.length - 2];
        long cols = d[d.length - 1];
        int n = x.size();
        double[] v = new double[n];
        long[] lv = new long[n];
        for (int i = 0; i < n; i++) {
            long col = i % cols;
            long row = (i / cols) % rows;
            boolean keep = upper ? col - row >= k : col - row <= k;
            v[i] = keep ? x.getDouble(i) : 0;
            lv[i] = keep ? x.getLong(i) : 0;
        }
        return x.isFloating() ? ConstTensor.ofDoubles(x.elemType(), d, v) : ConstTensor.ofLongs(x.elemType(), d, lv);
    }

    private static ConstTensor cumSum(NodeContext c, ConstTensor x, long axisValue) {
        long[] d = x.dims();
        int axis = c.normalizeAxis(axisValue, d.length);
        boolean exclusive = c.attrInt("exclusive", 0) != 0;
        boolean reverse = c.attrInt("reverse", 0) != 0;
        long inner = strides(d)[axis];
        long len = d[axis];
        long outer = x.size() / (inner * len);
        double[] v = new double[x.size()];
        long[] lv = new long[x.size()];
        for (long o = 0; o < outer; o++) {
            for (long in = 0; in < inner; in++) {
                double acc = 0;
                long lacc = 0;
                for (long s = 0; s < len; s++) {
                    long j = reverse ? len - 1 - s : s;
                    int idx = (int) ((o * len + j) * inner + in);
                    if (exclusive) {
                        v[idx] = acc;
                        lv[idx] = lacc;
                    }
                    acc += x.getDouble(idx);
                    lacc += x.getLong(idx);
                    if (!exclusive) {
                        v[idx] = acc;
                        lv[idx] = lacc;
                    }
                }
            }
        }
        return x.isFloating() ? ConstTensor.ofDoubles(x.elemType(), d, v) : ConstTensor.ofLongs(x.elemType(), d, lv);
    }

    private static ConstTensor reduce(NodeContext c, String op, ConstTensor x, TensorType t) {
        long[] d = x.dims();
        boolean[] reduced = OpRules.reducedAxes(c, op, d.length);
        long[] keptDims = d.clone();
        for (int i = 0; i < d.length; i++) {
            if (reduced[i]) {
                keptDims[i] = 1;
            }
        }
        int outN = (int) OnnxTypes.elementCount(keptDims);
        double[] acc = new double[outN];
        long[] count = new long[outN];
        double init = switch (op) {
            case "ReduceMax" -> Double.NEGATIVE_INFINITY;
            case "ReduceMin" -> Double.POSITIVE_INFINITY;
            case "ReduceProd" -> 1;
            default -> 0;
        };
        Arrays.fill(acc, init);
        long[] ks = strides(keptDims);
        int[] target = mapIndex(d, (i, a, coord) -> reduced[a] ? 0 : coord * ks[a]);
        for (int i = 0; i < x.size(); i++) {
            int o = target[i];
            double v = x.getDouble(i);
            acc[o] = switch (op) {
                case "ReduceMax" -> Math.max(acc[o], v);
                case "ReduceMin" -> Math.min(acc[o], v);
                case "ReduceProd" -> acc[o] * v;
                default -> acc[o] + v;
            };
            count[o]++;
        }
        if (op.equals("ReduceMean")) {
            for (int o = 0; o < outN; o++) {
                acc[o] /= Math.max(1, count[o]);
            }
        }
        return ConstTensor.ofDoubles(t.elemType(), t.dims(), acc);
    }

    private static ConstTensor matmul(ConstTensor a, ConstTensor b, TensorType t) {
        long[] ad = a.dims();
        long[] bd = b.dims();
        long[] aa = ad.length == 1 ? new long[] {1, ad[0]} : ad;
        long[] bb = bd.length == 1 ? new long[] {bd[0], 1} : bd;
        long m = aa[aa.length - 2];
        long k = aa[aa.length - 1];
        long n = bb[bb.length - 1];
        long[] batch = OpRules.broadcast(null, Arrays.copyOf(aa, aa.length - 2), Arrays.copyOf(bb, bb.length - 2));
        long[] aBatch = Arrays.copyOf(aa, aa.length - 2);
        long[] bBatch = Arrays.copyOf(bb, bb.length - 2);
        int[] ia = broadcastIndex(aBatch, batch);
        int[] ib = broadcastIndex(bBatch, batch);
        double[] v = new double[(int) (ia.length * m * n)];
        for (int bi = 0; bi < ia.length; bi++) {
            long ao = ia[bi] * m * k;
            long bo = ib[bi] * k * n;
            for (long i = 0; i < m; i++) {
                for (long j = 0; j < n; j++) {
                    double s = 0;
                    for (long p = 0; p < k; p++) {
                        s += a.getDouble((int) (ao + i * k + p)) * b.getDouble((int) (bo + p * n + j));
                    }
                    v[(int) ((bi * m + i) * n + j)] = s;
                }
            }
        }
        return ConstTensor.ofDoubles(t.elemType(), t.dims(), v);
    }

    private static List<ConstTensor> split(NodeContext c, ConstTensor x, List<TensorType> out) {
        long[] d = x.dims();
        int axis = c.normalizeAxis(c.attrInt("axis", 0), d.length);
        long inner = strides(d)[axis];
        long outer = x.size() / (inner * d[axis]);
        List<ConstTensor> result = new ArrayList<>();
        long offset = 0;
        for (TensorType t : out) {
            long len = t.dims()[axis];
            int[] index = new int[(int) t.elementCount()];
            int p = 0;
            for (long o = 0; o < outer; o++) {
                for (long s = 0; s < len; s++) {
                    for (long in = 0; in < inner; in++) {
                        index[p++] = (int) ((o * d[axis] + offset + s) * inner + in);
                    }
                }
            }
            result.add(x.gather(t.dims(), index));
            offset += len;
        }
        return result;
    }
}
