package dev.stepwise.runtime.ops;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.EncoderModel;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
import dev.stepwise.runtime.model.Seq2SeqLm;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.ops.Dim.KnownDim;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape-only backend: every op computes the shape and element type of its result and nothing else, so a forward
 * runs on it in microseconds, with no checkpoint and no data. What it is for is the weights the forward declares
 * ({@link Ops#weight(String, long...)} and friends): run once, it yields every checkpoint tensor the forward reads,
 * with its shape, whether it may be absent and how a random checkpoint draws it ({@link #expectedWeights}). So a
 * weight is named once, where it is used, and the expected-weights check and the random-checkpoint layout follow.
 *
 * <p>Every op checks its operands as strictly as the real backends would (broadcasting, inner sizes of products,
 * ranks, element types), so a declared shape that does not fit how the weight is used fails here, in one line naming
 * the op, the weight and the shapes, before anything is traced or read.
 */
public final class ShapeOps implements Ops {
    /** Sizes of the dummy run: batch and sequence above 1, so a misplaced axis cannot hide behind broadcasting. */
    private static final long BATCH = 2;
    private static final long SEQUENCE = 3;

    private final Map<String, WeightSpec> declared = new LinkedHashMap<>();
    private final Map<String, Shaped> weights = new LinkedHashMap<>();

    /** A value of the shape-only run: type, shape and, for messages, what it is. */
    private record Shaped(DType type, long[] shape, String what) implements Tensor {
        @Override
        public int rank() {
            return shape.length;
        }

        @Override
        public String toString() {
            return what + " " + Arrays.toString(shape);
        }
    }

    /**
     * Every checkpoint tensor {@code model}'s forward declares for {@code config}, in the order it first uses them: one
     * prefill forward of a {@code [2, 3]} batch without a past. Config problems the forward reports (an unsupported
     * activation, a bad {@code rope_scaling}) surface here, before anything is traced.
     */
    public static List<WeightSpec> expectedWeights(CausalLm model, ModelConfig config) {
        ShapeOps ops = new ShapeOps();
        Tensor ids = ops.input("input_ids", DType.INT64, BATCH, SEQUENCE);
        Tensor mask = ops.input("attention_mask", DType.INT64, BATCH, SEQUENCE);
        Tensor positions = ops.input("position_ids", DType.INT64, BATCH, SEQUENCE);
        model.forward(ops, config, new DecoderInputs(ids, mask, positions), KvCache.none(config.numLayers()));
        return ops.declaredWeights();
    }

    /**
     * As {@link #expectedWeights(CausalLm, ModelConfig)} for an encoder's {@code task}: one forward of a {@code [2, 3]}
     * batch with token types and positions given.
     */
    public static List<WeightSpec> expectedWeights(EncoderModel model, ModelConfig config, Task task) {
        ShapeOps ops = new ShapeOps();
        Tensor ids = ops.input("input_ids", DType.INT64, BATCH, SEQUENCE);
        Tensor mask = ops.input("attention_mask", DType.INT64, BATCH, SEQUENCE);
        Tensor types = ops.input("token_type_ids", DType.INT64, BATCH, SEQUENCE);
        Tensor positions = ops.input("position_ids", DType.INT64, BATCH, SEQUENCE);
        model.forward(ops, config, new EncoderInputs(ids, mask, types, positions), task);
        return ops.declaredWeights();
    }

    /**
     * As {@link #expectedWeights(CausalLm, ModelConfig)} for an encoder-decoder: the encoder on a {@code [2, 3]}
     * batch, then the decoder's first step on its output (the step that reads every weight: it computes the cross
     * cache).
     */
    public static List<WeightSpec> expectedWeights(Seq2SeqLm model, ModelConfig config) {
        ShapeOps ops = new ShapeOps();
        Tensor ids = ops.input("input_ids", DType.INT64, BATCH, SEQUENCE);
        Tensor mask = ops.input("attention_mask", DType.INT64, BATCH, SEQUENCE);
        Tensor hidden = model.encode(ops, config, new EncoderInputs(ids, mask, null, null));
        Tensor decoderIds = ops.input("decoder_input_ids", DType.INT64, BATCH, 1);
        int layers = model.decoderLayers(config);
        model.decode(ops, config, new Seq2SeqDecoderInputs(decoderIds, mask, hidden), KvCache.none(layers),
                KvCache.none(layers));
        return ops.declaredWeights();
    }

    /** A forward input of this type and shape. */
    public Tensor input(String name, DType type, long... shape) {
        return new Shaped(type, shape.clone(), "input '" + name + "'");
    }

    /** The weights declared so far, in first-use order. */
    public List<WeightSpec> declaredWeights() {
        return List.copyOf(declared.values());
    }

    // ---- sources ----

    @Override
    public DType floatType() {
        return DType.FLOAT;
    }

    /** There is no checkpoint to take a shape from: a forward must declare it. */
    @Override
    public Tensor weight(String name) {
        throw undeclared(name, "weight(name, shape...)");
    }

    @Override
    public Tensor weightTransposed(String name) {
        throw undeclared(name, "weightTransposed(name, out, in)");
    }

    private static StepwiseException undeclared(String name, String use) {
        return new StepwiseException("the forward reads weight '" + name + "' without declaring its shape; expected "
                + "ops." + use + " so the expected weights can be derived from the forward");
    }

    /** No checkpoint: a weight that may be absent is declared with {@link #weightOr} or {@link #tiedWeight}. */
    @Override
    public boolean hasWeight(String name) {
        return false;
    }

    @Override
    public Tensor weight(String name, WeightInit init, long... shape) {
        return declare(name, shape, false, init);
    }

    @Override
    public Tensor weightTransposed(String name, WeightInit init, long out, long in) {
        declare(name, new long[] {out, in}, false, init);
        return new Shaped(DType.FLOAT, new long[] {in, out}, "weight '" + name + "' transposed");
    }

    @Override
    public Tensor weightOr(String name, Tensor fallback, long... shape) {
        return optional(name, fallback, shape);
    }

    @Override
    public Tensor tiedWeight(String name, Tensor tiedTo, long... shape) {
        return optional(name, tiedTo, shape);
    }

    private Tensor optional(String name, Tensor standIn, long[] shape) {
        Shaped s = shaped(standIn);
        if (!Arrays.equals(s.shape(), shape)) {
            throw new StepwiseException("optional weight '" + name + "' is declared " + Arrays.toString(shape)
                    + " but stands in for " + s + "; expected the same shape");
        }
        declare(name, shape, true, WeightInit.NORMAL);
        return standIn;
    }

    private Tensor declare(String name, long[] shape, boolean optional, WeightInit init) {
        for (long d : shape) {
            if (d <= 0) {
                throw new StepwiseException("weight '" + name + "' is declared with shape " + Arrays.toString(shape)
                        + "; expected positive sizes");
            }
        }
        WeightSpec spec = new WeightSpec(name, shape, optional, init);
        WeightSpec first = declared.putIfAbsent(name, spec);
        if (first != null && (!Arrays.equals(first.shape(), shape) || first.optional() != optional
                || first.init() != init)) {
            throw new StepwiseException("weight '" + name + "' is declared twice, as " + describe(first) + " and as "
                    + describe(spec) + "; expected one declaration");
        }
        return weights.computeIfAbsent(name, n -> new Shaped(DType.FLOAT, shape.clone(), "weight '" + n + "'"));
    }

    private static String describe(WeightSpec s) {
        return Arrays.toString(s.shape()) + (s.optional() ? " optional" : "") + " " + s.init();
    }

    @Override
    public Tensor scalar(float value, DType type) {
        if (type != DType.FLOAT && type != DType.FLOAT16) {
            throw new IllegalArgumentException("scalar: " + type + " is not a floating type");
        }
        return new Shaped(type, new long[0], "scalar " + value);
    }

    @Override
    public Tensor longs(long... values) {
        return new Shaped(DType.INT64, new long[] {values.length}, "int64 constant");
    }

    @Override
    public Tensor floats(float... values) {
        return new Shaped(DType.FLOAT, new long[] {values.length}, "float constant");
    }

    // ---- dims: always numbers here ----

    @Override
    public Dim dim(Tensor x, int axis) {
        Shaped s = shaped(x);
        return Dim.of(s.shape()[axis(s, axis, s.rank(), "dim")]);
    }

    private static long known(Dim d) {
        if (!(d instanceof KnownDim)) {
            throw new IllegalArgumentException("dim " + d + " does not come from the shape-only backend");
        }
        return d.value();
    }

    @Override
    public Tensor dimTensor(Dim d) {
        known(d);
        return new Shaped(DType.INT64, new long[] {1}, "dim " + d);
    }

    // ---- layout ----

    @Override
    public Tensor reshape(Tensor x, Dim... shape) {
        Shaped s = shaped(x);
        long[] out = new long[shape.length];
        int inferred = -1;
        long rest = 1;
        for (int i = 0; i < shape.length; i++) {
            out[i] = known(shape[i]);
            if (out[i] == -1 && inferred < 0) {
                inferred = i;
            } else if (out[i] < 0) {
                throw fail("reshape of " + s + " to " + Arrays.toString(shape) + ": bad size " + out[i]);
            } else {
                rest *= out[i];
            }
        }
        long total = count(s.shape());
        if (inferred >= 0) {
            if (rest == 0 || total % rest != 0) {
                throw fail("cannot reshape " + s + " to " + Arrays.toString(shape));
            }
            out[inferred] = total / rest;
        } else if (rest != total) {
            throw fail("cannot reshape " + s + " (" + total + " elements) to " + Arrays.toString(out));
        }
        return new Shaped(s.type(), out, "reshape of " + s.what());
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        Shaped s = shaped(x);
        if (perm.length != s.rank()) {
            throw fail("transpose of " + s + ": permutation " + Arrays.toString(perm));
        }
        boolean[] seen = new boolean[perm.length];
        long[] out = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            int p = axis(s, perm[i], perm.length, "transpose");
            if (seen[p]) {
                throw fail("transpose of " + s + ": permutation " + Arrays.toString(perm));
            }
            seen[p] = true;
            out[i] = s.shape()[p];
        }
        return new Shaped(s.type(), out, "transpose of " + s.what());
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        if (xs.length == 0) {
            throw new IllegalArgumentException("concat of nothing");
        }
        Shaped first = shaped(xs[0]);
        int a = axis(first, axis, first.rank(), "concat");
        long[] out = first.shape().clone();
        for (int i = 1; i < xs.length; i++) {
            Shaped t = shaped(xs[i]);
            if (t.rank() != first.rank() || t.type() != first.type()) {
                throw fail("concat: " + t + " does not match " + first);
            }
            for (int d = 0; d < out.length; d++) {
                if (d == a) {
                    out[d] += t.shape()[d];
                } else if (t.shape()[d] != out[d]) {
                    throw fail("concat along axis " + a + ": " + t + " does not match " + first + " on axis " + d);
                }
            }
        }
        return new Shaped(first.type(), out, "concat");
    }

    @Override
    public Tensor slice(Tensor x, int axis, Dim start, Dim end) {
        Shaped s = shaped(x);
        int a = axis(s, axis, s.rank(), "slice");
        long n = s.shape()[a];
        long[] out = s.shape().clone();
        out[a] = Math.max(0, clamp(known(end), n) - clamp(known(start), n));
        return new Shaped(s.type(), out, "slice of " + s.what());
    }

    /** Slice's rule for one bound: negative counts from the end, then clamp into [0, n]. */
    private static long clamp(long v, long n) {
        long p = v < 0 ? v + n : v;
        return Math.max(0, Math.min(n, p));
    }

    @Override
    public Tensor unsqueeze(Tensor x, int... axes) {
        Shaped s = shaped(x);
        int rank = s.rank() + axes.length;
        boolean[] inserted = new boolean[rank];
        for (int a : axes) {
            int p = axis(s, a, rank, "unsqueeze");
            if (inserted[p]) {
                throw fail("unsqueeze of " + s + ": axes " + Arrays.toString(axes));
            }
            inserted[p] = true;
        }
        long[] out = new long[rank];
        for (int i = 0, j = 0; i < rank; i++) {
            out[i] = inserted[i] ? 1 : s.shape()[j++];
        }
        return new Shaped(s.type(), out, "unsqueeze of " + s.what());
    }

    @Override
    public Tensor gather(Tensor table, Tensor indices) {
        Shaped t = shaped(table);
        Shaped idx = shaped(indices);
        if (idx.type() != DType.INT64 && idx.type() != DType.INT32) {
            throw fail("gather: indices " + idx + " must be int64 or int32");
        }
        if (t.rank() == 0) {
            throw fail("gather from " + t + ": a table needs at least one axis");
        }
        long[] out = new long[idx.rank() + t.rank() - 1];
        System.arraycopy(idx.shape(), 0, out, 0, idx.rank());
        System.arraycopy(t.shape(), 1, out, idx.rank(), t.rank() - 1);
        return new Shaped(t.type(), out, "rows of " + t.what());
    }

    @Override
    public Tensor cast(Tensor x, DType to) {
        Shaped s = shaped(x);
        return s.type() == to ? s : new Shaped(to, s.shape(), s.what() + " as " + to);
    }

    // ---- arithmetic ----

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("add", a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary("sub", a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary("mul", a, b);
    }

    @Override
    public Tensor div(Tensor a, Tensor b) {
        return binary("div", a, b);
    }

    private Shaped binary(String op, Tensor a, Tensor b) {
        Shaped x = shaped(a);
        Shaped y = shaped(b);
        sameType(op, x, y);
        return new Shaped(x.type(), broadcast(op, x, y), op);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Shaped x = shaped(a);
        Shaped y = shaped(b);
        sameType("matmul", x, y);
        if (x.rank() == 0 || y.rank() == 0) {
            throw fail("matmul of " + x + " and " + y + ": operands need at least one axis");
        }
        long[] xs = x.rank() == 1 ? new long[] {1, x.shape()[0]} : x.shape();
        long[] ys = y.rank() == 1 ? new long[] {y.shape()[0], 1} : y.shape();
        if (xs[xs.length - 1] != ys[ys.length - 2]) {
            throw fail("matmul of " + x + " and " + y + ": inner sizes " + xs[xs.length - 1] + " and "
                    + ys[ys.length - 2] + " differ");
        }
        long[] batch = broadcastShapes("matmul", x, y, Arrays.copyOf(xs, xs.length - 2), Arrays.copyOf(ys, ys.length - 2));
        List<Long> out = new ArrayList<>();
        for (long d : batch) {
            out.add(d);
        }
        if (x.rank() > 1) {
            out.add(xs[xs.length - 2]);
        }
        if (y.rank() > 1) {
            out.add(ys[ys.length - 1]);
        }
        return new Shaped(x.type(), out.stream().mapToLong(Long::longValue).toArray(), "matmul");
    }

    @Override
    public Tensor matmulTransposedB(Tensor a, Tensor b) {
        Shaped x = shaped(a);
        Shaped w = shaped(b);
        sameType("matmulTransposedB", x, w);
        if (w.rank() != 2 || x.rank() < 2) {
            throw fail("matmulTransposedB needs a of rank >= 2 and a matrix b, got " + x + " and " + w);
        }
        if (x.shape()[x.rank() - 1] != w.shape()[1]) {
            throw fail("matmulTransposedB of " + x + " and " + w + " (used transposed): inner sizes "
                    + x.shape()[x.rank() - 1] + " and " + w.shape()[1] + " differ");
        }
        long[] out = x.shape().clone();
        out[out.length - 1] = w.shape()[0];
        return new Shaped(x.type(), out, "matmul");
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        return unary(x, "pow");
    }

    @Override
    public Tensor pow(Tensor x, Tensor exponent) {
        return binary("pow", x, exponent);
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return unary(x, "sqrt");
    }

    @Override
    public Tensor tanh(Tensor x) {
        return unary(x, "tanh");
    }

    @Override
    public Tensor exp(Tensor x) {
        return unary(x, "exp");
    }

    @Override
    public Tensor neg(Tensor x) {
        return unary(x, "neg");
    }

    @Override
    public Tensor relu(Tensor x) {
        return unary(x, "relu");
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return unary(x, "sigmoid");
    }

    @Override
    public Tensor gelu(Tensor x) {
        return unary(x, "gelu");
    }

    @Override
    public Tensor sin(Tensor x) {
        return unary(x, "sin");
    }

    @Override
    public Tensor cos(Tensor x) {
        return unary(x, "cos");
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        Shaped s = shaped(x);
        axis(s, axis, s.rank(), "softmax");
        return unary(s, "softmax");
    }

    private static Shaped unary(Tensor x, String op) {
        Shaped s = shaped(x);
        return new Shaped(s.type(), s.shape(), op + " of " + s.what());
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Shaped s = shaped(x);
        if (s.rank() == 0) {
            throw fail("layerNorm of " + s + ": needs at least one axis");
        }
        long width = s.shape()[s.rank() - 1];
        for (Tensor p : beta == null ? List.of(gamma) : List.of(gamma, beta)) {
            Shaped t = shaped(p);
            if (t.rank() != 1 || t.shape()[0] != width) {
                throw fail("layerNorm of " + s + " with " + t + ": expected a scale and shift of shape [" + width + "]");
            }
            sameType("layerNorm", s, t);
        }
        return new Shaped(s.type(), s.shape(), "layerNorm");
    }

    @Override
    public Tensor reduceMean(Tensor x, int axis, boolean keepDims) {
        Shaped s = shaped(x);
        int a = axis(s, axis, s.rank(), "reduceMean");
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < s.rank(); i++) {
            if (i != a) {
                out.add(s.shape()[i]);
            } else if (keepDims) {
                out.add(1L);
            }
        }
        return new Shaped(s.type(), out.stream().mapToLong(Long::longValue).toArray(), "mean of " + s.what());
    }

    // ---- indices and masks ----

    @Override
    public Tensor range(Dim start, Dim end) {
        return new Shaped(DType.INT64, new long[] {Math.max(0, known(end) - known(start))}, "range");
    }

    @Override
    public Tensor cumsum(Tensor x, int axis) {
        Shaped s = shaped(x);
        axis(s, axis, s.rank(), "cumsum");
        return unary(s, "cumsum");
    }

    @Override
    public Tensor lessOrEqual(Tensor a, Tensor b) {
        return compare("lessOrEqual", a, b);
    }

    @Override
    public Tensor greater(Tensor a, Tensor b) {
        return compare("greater", a, b);
    }

    private Shaped compare(String op, Tensor a, Tensor b) {
        Shaped x = shaped(a);
        Shaped y = shaped(b);
        sameType(op, x, y);
        return new Shaped(DType.BOOL, broadcast(op, x, y), op);
    }

    @Override
    public Tensor and(Tensor a, Tensor b) {
        Shaped x = shaped(a);
        Shaped y = shaped(b);
        if (x.type() != DType.BOOL || y.type() != DType.BOOL) {
            throw fail("and: operands " + x + " and " + y + " must be bool");
        }
        return new Shaped(DType.BOOL, broadcast("and", x, y), "and");
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        Shaped c = shaped(cond);
        Shaped x = shaped(a);
        Shaped y = shaped(b);
        if (c.type() != DType.BOOL) {
            throw fail("where: condition " + c + " must be bool");
        }
        sameType("where", x, y);
        long[] xy = broadcast("where", x, y);
        return new Shaped(x.type(), broadcastShapes("where", c, x, c.shape(), xy), "where");
    }

    // ---- helpers ----

    private static Shaped shaped(Tensor x) {
        if (x instanceof Shaped s) {
            return s;
        }
        throw new IllegalArgumentException("tensor " + x + " does not come from the shape-only backend");
    }

    private static int axis(Shaped s, int axis, int rank, String op) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw fail(op + " of " + s + ": axis " + axis + " is out of range for rank " + rank);
        }
        return a;
    }

    private static void sameType(String op, Shaped x, Shaped y) {
        if (x.type() != y.type()) {
            throw fail(op + ": operands " + x + " (" + x.type() + ") and " + y + " (" + y.type()
                    + ") have different element types");
        }
    }

    private static long[] broadcast(String op, Shaped x, Shaped y) {
        return broadcastShapes(op, x, y, x.shape(), y.shape());
    }

    /** Numpy broadcasting: sizes equal or one of them 1. */
    private static long[] broadcastShapes(String op, Shaped x, Shaped y, long[] a, long[] b) {
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.length);
            int ib = i - (rank - b.length);
            long da = ia >= 0 ? a[ia] : 1;
            long db = ib >= 0 ? b[ib] : 1;
            if (da != db && da != 1 && db != 1) {
                throw fail(op + " of " + x + " and " + y + ": sizes " + da + " and " + db + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    private static StepwiseException fail(String message) {
        return new StepwiseException("shape-only run of the forward: " + message);
    }
}
