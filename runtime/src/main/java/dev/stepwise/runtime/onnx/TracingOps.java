package dev.stepwise.runtime.onnx;

import com.google.protobuf.ByteString;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.EncoderAttention;
import dev.stepwise.runtime.model.layers.RotaryAttention;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The tracing backend: every {@link Ops} call appends ONNX nodes to a {@link GraphBuilder} instead of computing.
 *
 * <p>It tracks the rank, element type and, as far as known, the shape of every value. With all input dims fixed,
 * every shape is known, so dims are numbers, reshape targets and ranges are constants, and no node that only computes
 * shapes (Shape, Gather on a shape, Concat of dims, Range, ConstantOfShape) is ever emitted: that is how gen-step
 * graphs come out static without a simplifier. With symbolic input dims it emits the least shape arithmetic it can:
 * dims are read off values lazily and once ({@link SymbolicDim}), and reshapes copy ({@code 0}) or infer ({@code -1})
 * an axis rather than compute it whenever that is possible.
 *
 * <p>Weights are handed to a {@link WeightSink} the moment they are first asked for, and stored once per name, in the
 * compute type ({@link #floatType()}): float32, or float16 for a half-precision graph (float16 checkpoint tensors are
 * copied as stored, others narrowed).
 *
 * <p>With {@link Optimize#ORT} the fused layers ({@link #rmsNorm}, {@link #addRmsNorm}, {@link #rotaryAttention},
 * {@link #addLayerNorm}, {@link #biasActivation}, {@link #causalAttention}) are ONNX Runtime contrib nodes ({@link OrtFusions}); otherwise they are traced as their standard-op composition.
 */
public final class TracingOps implements Ops {
    /** Lowest supported opset: Softmax's single-axis semantics and input-tensor forms of Unsqueeze/Squeeze/Split. */
    public static final int MIN_OPSET = 13;

    private final GraphBuilder graph;
    private final WeightSource weights;
    private final WeightSink sink;
    private final int opset;
    private final DType floatType;
    /** Non-null in an {@link Optimize#ORT} trace. */
    private final OrtFusions fusions;

    private final Map<String, TracedTensor> weightCache = new HashMap<>();
    private final Map<String, TracedTensor> transposedCache = new HashMap<>();
    private final Map<ConstantKey, TracedTensor> constants = new HashMap<>();
    /** One dim per dim_param: every input axis declared {@code batch_size} is the same dim. */
    private final Map<String, SymbolicDim> inputDims = new HashMap<>();
    /** The full Shape of a value, for reading several of its axes below opset 15. */
    private final Map<TracedTensor, TracedTensor> shapes = new IdentityHashMap<>();
    /** Rank-0 copies of symbolic dims, for Range. */
    private final Map<SymbolicDim, TracedTensor> dimScalars = new HashMap<>();

    private record ConstantKey(DType type, List<Long> dims, ByteString bytes) {
    }

    public TracingOps(GraphBuilder graph, WeightSource weights, WeightSink sink) {
        this(graph, weights, sink, DType.FLOAT);
    }

    /** A tracer whose weights, activations and {@link #scalar(float)} constants are of {@code floatType}. */
    public TracingOps(GraphBuilder graph, WeightSource weights, WeightSink sink, DType floatType) {
        this(graph, weights, sink, floatType, Optimize.PLAIN);
    }

    /** As above; with {@link Optimize#ORT} the fused layers are ONNX Runtime contrib nodes (float32 only). */
    public TracingOps(GraphBuilder graph, WeightSource weights, WeightSink sink, DType floatType, Optimize optimize) {
        if (graph.opset() < MIN_OPSET) {
            throw new StepwiseException("opset " + graph.opset() + " is not supported; the lowest is " + MIN_OPSET);
        }
        if (floatType != DType.FLOAT && floatType != DType.FLOAT16) {
            throw new IllegalArgumentException("compute type must be FLOAT or FLOAT16, got " + floatType);
        }
        this.graph = graph;
        this.weights = weights;
        this.sink = sink;
        this.opset = graph.opset();
        this.floatType = floatType;
        if (optimize == Optimize.ORT && floatType != DType.FLOAT) {
            throw new StepwiseException("--optimize ort writes float32 graphs only (ONNX Runtime's CPU "
                    + "GroupQueryAttention and RotaryEmbedding kernels are float32); got " + floatType);
        }
        this.fusions = optimize == Optimize.ORT ? new OrtFusions(this) : null;
        if (optimize != Optimize.PLAIN) {
            graph.putMetadata("optimize", optimize.cliName()); // plain graphs carry no such key, as before
        }
    }

    public GraphBuilder graph() {
        return graph;
    }

    // ---- graph inputs and outputs ----

    /**
     * Declares a graph input. Each dim is a {@link String} (a {@code dim_param}: symbolic; inputs sharing a name share
     * the dim) or an {@link Integer}/{@link Long} (fixed).
     */
    public TracedTensor input(String name, DType type, List<Object> dims) {
        TracedTensor t = new TracedTensor(name, type, new Dim[dims.size()]);
        List<Object> declared = new ArrayList<>(dims.size());
        for (int i = 0; i < dims.size(); i++) {
            Object d = dims.get(i);
            if (d instanceof Integer || d instanceof Long) {
                long v = ((Number) d).longValue();
                if (v < 0) {
                    throw new StepwiseException("input '" + name + "': axis " + i + " has negative size " + v);
                }
                t.setDim(i, Dim.of(v));
                declared.add(v);
            } else if (d instanceof String param && !param.isBlank()) {
                int axis = i;
                SymbolicDim sd = inputDims.computeIfAbsent(param,
                        p -> new SymbolicDim(p, p, () -> readDim(t, axis)));
                t.setDim(i, sd);
                declared.add(param);
            } else {
                throw new StepwiseException("input '" + name + "': axis " + i + " must be a size or a dim name, got " + d);
            }
        }
        graph.addInput(GraphBuilder.tensorInfo(name, OnnxTypes.elemType(type), declared));
        return t;
    }

    /**
     * Declares a graph output named {@code name}. {@code type} and {@code dims} (as for {@link #input}) may be null to
     * take what the trace knows. The producing node's output is renamed when nothing else reads it; an Identity node
     * is added only when the value is also a graph input, an initializer, another output, or already read by a node.
     */
    public void output(String name, Tensor value, DType type, List<Object> dims) {
        TracedTensor v = traced(value);
        if (type != null && type != v.type()) {
            throw new StepwiseException("output '" + name + "' is " + v.type() + " but is declared " + type);
        }
        List<Object> declared = dims != null ? new ArrayList<>(dims) : describeDims(v);
        if (declared.size() != v.rank()) {
            throw new StepwiseException("output '" + name + "' has rank " + v.rank() + " but is declared with "
                    + declared.size() + " dims");
        }
        for (int i = 0; i < declared.size(); i++) {
            Dim known = v.dim(i);
            if (declared.get(i) instanceof Number n && known != null && known.isKnown() && known.value() != n.longValue()) {
                throw new StepwiseException("output '" + name + "': axis " + i + " is " + known.value()
                        + " but is declared " + n);
            }
        }
        String current = v.name();
        if (!current.equals(name)) {
            boolean renamable = graph.isNodeOutput(current) && !graph.isGraphOutput(current);
            if (renamable) {
                // Consumers are rewritten too: no Identity copy (a present key/value is also read by attention).
                graph.renameConsumedNodeOutput(current, name);
                v.rename(name);
            } else {
                String copy = graph.addNode("Identity", List.of(current));
                graph.renameNodeOutput(copy, name);
            }
        }
        graph.addOutput(GraphBuilder.tensorInfo(name, OnnxTypes.elemType(v.type()), declared));
    }

    /** Declares an output with the type and dims the trace knows. */
    public void output(String name, Tensor value) {
        output(name, value, null, null);
    }

    private static List<Object> describeDims(TracedTensor v) {
        List<Object> out = new ArrayList<>(v.rank());
        for (Dim d : v.dims()) {
            if (d != null && d.isKnown()) {
                out.add(d.value());
            } else if (d instanceof SymbolicDim s && s.dimParam().isPresent()) {
                out.add(s.dimParam().get());
            } else {
                out.add(null);
            }
        }
        return out;
    }

    // ---- sources ----

    @Override
    public DType floatType() {
        return floatType;
    }

    /** The checkpoint tensor's bytes in the compute type, streamed and converted as the sink reads them. */
    private TensorBytes weightData(String name) {
        return weights.bytes(name, floatType);
    }

    @Override
    public Tensor weight(String name) {
        TracedTensor cached = weightCache.get(name);
        if (cached != null) {
            return cached;
        }
        long[] shape = weights.shape(name);
        TensorProto init = sink.write(name, floatType, shape, weightData(name));
        graph.addInitializer(init);
        TracedTensor t = new TracedTensor(name, floatType, known(shape));
        weightCache.put(name, t);
        return t;
    }

    @Override
    public Tensor weightTransposed(String name) {
        TracedTensor cached = transposedCache.get(name);
        if (cached != null) {
            return cached;
        }
        long[] shape = weights.shape(name);
        if (shape.length != 2) {
            throw new StepwiseException(weights.describe() + ": '" + name + "' has shape " + Arrays.toString(shape)
                    + "; a transposed weight must be a matrix");
        }
        String initName = graph.unusedName(name + ".T");
        TensorProto init = sink.writeTransposed(initName, floatType, shape[0], shape[1], weightData(name));
        graph.addInitializer(init);
        TracedTensor t = new TracedTensor(initName, floatType, known(new long[] {shape[1], shape[0]}));
        transposedCache.put(name, t);
        return t;
    }

    @Override
    public boolean hasWeight(String name) {
        return weights.has(name);
    }

    @Override
    public Tensor scalar(float value, DType type) {
        if (type == DType.FLOAT16) {
            ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(HalfFloats.floatToF16(value));
            return constant(DType.FLOAT16, new long[0], b.array(), "f16_" + value);
        }
        if (type != DType.FLOAT) {
            throw new IllegalArgumentException("scalar: " + type + " is not a floating type");
        }
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value);
        return constant(DType.FLOAT, new long[0], b.array(), "f32_" + value);
    }

    @Override
    public Tensor longs(long... values) {
        return constantLongs(values);
    }

    @Override
    public Tensor floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        String hint = values.length > 6 ? values.length + "_values" : values.length == 0 ? "empty" : "vec";
        return constant(DType.FLOAT, new long[] {values.length}, b.array(), "f32_" + hint);
    }

    private TracedTensor constantLongs(long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return constant(DType.INT64, new long[] {values.length}, b.array(), "i64_" + hint(values));
    }

    /** A rank-0 int64 constant (CumSum's axis, Range's bounds). */
    private TracedTensor constantLongScalar(long value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        return constant(DType.INT64, new long[0], b.array(), "i64_scalar_" + value);
    }

    private static String hint(long[] values) {
        if (values.length > 6) {
            return values.length + "_values";
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : "_").append(values[i]);
        }
        return values.length == 0 ? "empty" : sb.toString();
    }

    /** An inline initializer; identical constants are stored once. */
    private TracedTensor constant(DType type, long[] dims, byte[] raw, String hint) {
        ByteString bytes = ByteString.copyFrom(raw);
        List<Long> dimList = new ArrayList<>();
        for (long d : dims) {
            dimList.add(d);
        }
        ConstantKey key = new ConstantKey(type, dimList, bytes);
        TracedTensor cached = constants.get(key);
        if (cached != null) {
            return cached;
        }
        String name = graph.unusedName("const_" + hint);
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(OnnxTypes.elemType(type))
                .addAllDims(dimList).setRawData(bytes).build());
        TracedTensor t = new TracedTensor(name, type, known(dims));
        constants.put(key, t);
        return t;
    }

    // ---- dims ----

    @Override
    public Dim dim(Tensor x, int axis) {
        TracedTensor t = traced(x);
        int a = t.normalize(axis);
        Dim d = t.dim(a);
        if (d == null) {
            // first question about this axis: remember the answer on the value, so the Shape is emitted once
            d = new SymbolicDim("shape(" + t.name() + ")[" + a + "]", null, () -> readDim(t, a));
            t.setDim(a, d);
        }
        return d;
    }

    /** Emits the nodes reading axis {@code axis} of {@code x} as an int64 [1] tensor. */
    private TracedTensor readDim(TracedTensor x, int axis) {
        Dim[] one = {Dim.of(1)};
        if (opset >= 15) {
            return node("Shape", DType.INT64, one, List.of(x.name()),
                    Attributes.of("start", (long) axis), Attributes.of("end", (long) axis + 1));
        }
        TracedTensor shape = shapes.computeIfAbsent(x,
                v -> node("Shape", DType.INT64, new Dim[] {Dim.of(v.rank())}, List.of(v.name())));
        return node("Gather", DType.INT64, one, List.of(shape.name(), constantLongs(axis).name()),
                Attributes.of("axis", 0L));
    }

    @Override
    public Dim add(Dim a, Dim b) {
        checkDim(a);
        checkDim(b);
        if (a.isKnown() && b.isKnown()) {
            return Dim.of(a.value() + b.value());
        }
        if (isKnown(a, 0)) {
            return b;
        }
        if (isKnown(b, 0)) {
            return a;
        }
        return derived("Add", "+", a, b);
    }

    @Override
    public Dim sub(Dim a, Dim b) {
        checkDim(a);
        checkDim(b);
        if (a.isKnown() && b.isKnown()) {
            return Dim.of(a.value() - b.value());
        }
        if (isKnown(b, 0)) {
            return a;
        }
        if (a.equals(b)) {
            return Dim.of(0);
        }
        return derived("Sub", "-", a, b);
    }

    @Override
    public Dim mul(Dim a, Dim b) {
        checkDim(a);
        checkDim(b);
        if (a.isKnown() && b.isKnown()) {
            return Dim.of(a.value() * b.value());
        }
        if (isKnown(a, 0) || isKnown(b, 0)) {
            return Dim.of(0);
        }
        if (isKnown(a, 1)) {
            return b;
        }
        if (isKnown(b, 1)) {
            return a;
        }
        return derived("Mul", "*", a, b);
    }

    /** A symbolic dim computed from two others; nothing is emitted until something needs its tensor. */
    private SymbolicDim derived(String op, String symbol, Dim a, Dim b) {
        return new SymbolicDim(operand(a) + " " + symbol + " " + operand(b), null,
                () -> node(op, DType.INT64, new Dim[] {Dim.of(1)}, List.of(dimTensorName(a), dimTensorName(b))));
    }

    private static String operand(Dim d) {
        String s = d.toString();
        return s.contains(" ") ? "(" + s + ")" : s;
    }

    private static boolean isKnown(Dim d, long value) {
        return d.isKnown() && d.value() == value;
    }

    @Override
    public Tensor dimTensor(Dim d) {
        checkDim(d);
        return d.isKnown() ? constantLongs(d.value()) : ((SymbolicDim) d).tensor();
    }

    private String dimTensorName(Dim d) {
        return ((TracedTensor) dimTensor(d)).name();
    }

    /** A rank-0 int64 tensor holding the dim (Range takes scalars). */
    private String dimScalarName(Dim d) {
        if (d.isKnown()) {
            return constantLongScalar(d.value()).name();
        }
        SymbolicDim s = (SymbolicDim) d;
        return dimScalars.computeIfAbsent(s, k -> node("Squeeze", DType.INT64, new Dim[0],
                List.of(k.tensor().name(), constantLongs(0).name()))).name();
    }

    private static void checkDim(Dim d) {
        if (d == null || !(d.isKnown() || d instanceof SymbolicDim)) {
            throw new IllegalArgumentException("dim " + d + " does not come from this tracer");
        }
    }

    // ---- layout ----

    @Override
    public Tensor reshape(Tensor x, Dim... shape) {
        TracedTensor t = traced(x);
        int n = shape.length;
        int inferred = -1;
        boolean literalZero = false;
        for (int i = 0; i < n; i++) {
            checkDim(shape[i]);
            if (shape[i].isKnown()) {
                long v = shape[i].value();
                if (v == -1) {
                    if (inferred >= 0) {
                        throw new IllegalArgumentException("reshape of " + t + ": more than one -1 in "
                                + Arrays.toString(shape));
                    }
                    inferred = i;
                } else if (v < -1) {
                    throw new IllegalArgumentException("reshape of " + t + ": bad size " + v);
                } else if (v == 0) {
                    literalZero = true;
                }
            }
        }
        if (literalZero && inferred >= 0) {
            throw new IllegalArgumentException("reshape of " + t + ": -1 next to a zero-length axis is ambiguous");
        }

        Dim[] out = shape.clone();
        if (inferred >= 0) {
            out[inferred] = inferredDim(t, shape, inferred);
        }
        if (sameDims(t.dims(), out)) {
            return t;
        }

        // Target entries: known sizes as constants, an unchanged symbolic axis as 0 (copy), a single remaining
        // symbolic axis as -1 (infer); only what is left needs its dim tensor.
        Object[] entries = new Object[n];
        List<Integer> pending = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Dim d = shape[i];
            if (d.isKnown()) {
                entries[i] = d.value();
            } else if (!literalZero && i < t.rank() && d.equals(t.dim(i))) {
                entries[i] = 0L;
            } else {
                pending.add(i);
            }
        }
        if (!pending.isEmpty() && inferred < 0 && !literalZero) {
            // one axis can be inferred for free; pick one whose tensor does not exist yet. (A -1 cannot be inferred
            // when another axis is 0 at run time; forwards do not reshape tensors whose kept axes are empty.)
            int chosen = pending.get(0);
            for (int i : pending) {
                if (!((SymbolicDim) shape[i]).isMaterialized()) {
                    chosen = i;
                    break;
                }
            }
            entries[chosen] = -1L;
            pending.remove(Integer.valueOf(chosen));
        }
        for (int i : pending) {
            entries[i] = shape[i];
        }
        List<AttributeProto> attrs = new ArrayList<>();
        if (literalZero) {
            if (opset >= 14) {
                attrs.add(Attributes.of("allowzero", 1L)); // a 0 is a real zero-length axis, not "copy"
            } else {
                for (int i = 0; i < n; i++) {
                    if (isKnown(shape[i], 0) && !(i < t.rank() && t.dim(i) != null && isKnown(t.dim(i), 0))) {
                        throw new StepwiseException("reshape of " + t + " to a zero-length axis " + i
                                + " needs opset 14 or later (Reshape's allowzero)");
                    }
                }
            }
        }
        return node("Reshape", t.type(), out, List.of(t.name(), shapeTensorName(entries)),
                attrs.toArray(new AttributeProto[0]));
    }

    /** The size a -1 stands for, when everything else is known; else null. */
    private static Dim inferredDim(TracedTensor t, Dim[] shape, int inferred) {
        long[] in = t.knownShape();
        if (in == null) {
            return null;
        }
        long rest = 1;
        for (int i = 0; i < shape.length; i++) {
            if (i != inferred) {
                if (!shape[i].isKnown()) {
                    return null;
                }
                rest *= shape[i].value();
            }
        }
        long total = OnnxTypes.elementCount(in);
        if (rest == 0 || total % rest != 0) {
            throw new StepwiseException("cannot reshape " + t + " to " + Arrays.toString(shape));
        }
        return Dim.of(total / rest);
    }

    /** A shape tensor from constants and symbolic dims: one constant when it can, else a Concat of pieces. */
    private String shapeTensorName(Object[] entries) {
        List<String> pieces = new ArrayList<>();
        List<Long> run = new ArrayList<>();
        for (Object e : entries) {
            if (e instanceof Long v) {
                run.add(v);
            } else {
                if (!run.isEmpty()) {
                    pieces.add(constantLongs(toArray(run)).name());
                    run.clear();
                }
                pieces.add(((SymbolicDim) e).tensor().name());
            }
        }
        if (!run.isEmpty() || pieces.isEmpty()) {
            pieces.add(constantLongs(toArray(run)).name());
        }
        if (pieces.size() == 1) {
            return pieces.get(0);
        }
        return node("Concat", DType.INT64, new Dim[] {Dim.of(entries.length)}, pieces, Attributes.of("axis", 0L))
                .name();
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        TracedTensor t = traced(x);
        if (perm.length != t.rank()) {
            throw new IllegalArgumentException("transpose of " + t + ": permutation " + Arrays.toString(perm));
        }
        boolean[] seen = new boolean[perm.length];
        boolean identity = true;
        Dim[] out = new Dim[perm.length];
        for (int i = 0; i < perm.length; i++) {
            int p = perm[i] < 0 ? perm[i] + perm.length : perm[i];
            if (p < 0 || p >= perm.length || seen[p]) {
                throw new IllegalArgumentException("transpose of " + t + ": permutation " + Arrays.toString(perm));
            }
            seen[p] = true;
            identity &= p == i;
            out[i] = t.dim(p);
        }
        if (identity) {
            return t;
        }
        return node("Transpose", t.type(), out, List.of(t.name()), Attributes.ints("perm", normalizedPerm(perm)));
    }

    private static int[] normalizedPerm(int[] perm) {
        int[] p = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            p[i] = perm[i] < 0 ? perm[i] + perm.length : perm[i];
        }
        return p;
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        if (xs.length == 0) {
            throw new IllegalArgumentException("concat of nothing");
        }
        TracedTensor first = traced(xs[0]);
        if (xs.length == 1) {
            return first;
        }
        int a = first.normalize(axis);
        Dim[] out = new Dim[first.rank()];
        List<String> names = new ArrayList<>();
        Dim total = Dim.of(0);
        for (Tensor x : xs) {
            TracedTensor t = traced(x);
            if (t.rank() != first.rank() || t.type() != first.type()) {
                throw new StepwiseException("concat: " + t + " does not match " + first);
            }
            names.add(t.name());
            for (int i = 0; i < out.length; i++) {
                if (i != a) {
                    out[i] = better(out[i], t.dim(i));
                }
            }
            total = total == null || t.dim(a) == null ? null : add(total, t.dim(a));
        }
        out[a] = total;
        return node("Concat", first.type(), out, names, Attributes.of("axis", (long) a));
    }

    /** Of two dims that must be equal, the more informative one. */
    private static Dim better(Dim current, Dim candidate) {
        if (current == null || (!current.isKnown() && candidate != null && candidate.isKnown())) {
            return candidate;
        }
        return current;
    }

    @Override
    public Tensor slice(Tensor x, int axis, Dim start, Dim end) {
        TracedTensor t = traced(x);
        checkDim(start);
        checkDim(end);
        int a = t.normalize(axis);
        Dim length = t.dim(a);
        Dim outLength = null;
        if (start.isKnown() && end.isKnown() && length != null && length.isKnown()) {
            long n = length.value();
            long s = clamp(start.value(), n);
            long e = clamp(end.value(), n);
            if (s == 0 && e == n) {
                return t;
            }
            outLength = Dim.of(Math.max(0, e - s));
        } else if (isKnown(start, 0) && end.equals(length)) {
            return t; // the whole axis
        } else if (length != null && end.equals(length) && start.equals(sub(length, Dim.of(1)))) {
            outLength = Dim.of(1); // the last position (of a non-empty axis: a sequence)
        }
        Dim[] out = t.dims();
        out[a] = outLength;
        return node("Slice", t.type(), out,
                List.of(t.name(), dimTensorName(start), dimTensorName(end), constantLongs(a).name()));
    }

    /** Slice's rule for one bound: negative counts from the end, then clamp into [0, n]. */
    private static long clamp(long v, long n) {
        long p = v < 0 ? v + n : v;
        return Math.max(0, Math.min(n, p));
    }

    @Override
    public Tensor unsqueeze(Tensor x, int... axes) {
        TracedTensor t = traced(x);
        int rank = t.rank() + axes.length;
        boolean[] inserted = new boolean[rank];
        long[] normalized = new long[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int p = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (p < 0 || p >= rank || inserted[p]) {
                throw new IllegalArgumentException("unsqueeze of " + t + ": axes " + Arrays.toString(axes));
            }
            inserted[p] = true;
            normalized[i] = p;
        }
        Arrays.sort(normalized);
        Dim[] out = new Dim[rank];
        for (int i = 0, j = 0; i < rank; i++) {
            out[i] = inserted[i] ? Dim.of(1) : t.dim(j++);
        }
        return node("Unsqueeze", t.type(), out, List.of(t.name(), constantLongs(normalized).name()));
    }

    /**
     * {@code x[index]} along {@code axis}, which disappears: a Gather with a scalar index. Not part of {@link Ops}
     * (forwards never need it); graph adapters use it to unpack stacked inputs such as a {@code [2, ...]} key/value pair.
     */
    public Tensor select(Tensor x, int axis, long index) {
        TracedTensor t = traced(x);
        int a = t.normalize(axis);
        List<Dim> out = new ArrayList<>(Arrays.asList(t.dims()));
        out.remove(a);
        return node("Gather", t.type(), out.toArray(new Dim[0]),
                List.of(t.name(), constantLongScalar(index).name()), Attributes.of("axis", (long) a));
    }

    @Override
    public Tensor gather(Tensor table, Tensor indices) {
        TracedTensor t = traced(table);
        TracedTensor idx = traced(indices);
        if (idx.type() != DType.INT64 && idx.type() != DType.INT32) {
            throw new StepwiseException("gather: indices " + idx + " must be int64 or int32");
        }
        Dim[] out = new Dim[idx.rank() + t.rank() - 1];
        System.arraycopy(idx.dims(), 0, out, 0, idx.rank());
        System.arraycopy(t.dims(), 1, out, idx.rank(), t.rank() - 1);
        return node("Gather", t.type(), out, List.of(t.name(), idx.name()), Attributes.of("axis", 0L));
    }

    @Override
    public Tensor cast(Tensor x, DType to) {
        TracedTensor t = traced(x);
        if (t.type() == to) {
            return t;
        }
        return node("Cast", to, t.dims(), List.of(t.name()), Attributes.of("to", (long) OnnxTypes.elemType(to)));
    }

    // ---- arithmetic ----

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("Add", a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary("Sub", a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary("Mul", a, b);
    }

    @Override
    public Tensor div(Tensor a, Tensor b) {
        return binary("Div", a, b);
    }

    private TracedTensor binary(String op, Tensor a, Tensor b) {
        TracedTensor x = traced(a);
        TracedTensor y = traced(b);
        sameType(op, x, y);
        return node(op, x.type(), broadcast(x.dims(), y.dims()), List.of(x.name(), y.name()));
    }

    private static void sameType(String op, TracedTensor x, TracedTensor y) {
        if (x.type() != y.type()) {
            throw new StepwiseException(op + ": operands " + x + " and " + y + " have different element types");
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        TracedTensor x = traced(a);
        TracedTensor y = traced(b);
        sameType("MatMul", x, y);
        Dim[] xd = x.dims();
        Dim[] yd = y.dims();
        Dim[] xBatch = x.rank() >= 2 ? Arrays.copyOf(xd, x.rank() - 2) : new Dim[0];
        Dim[] yBatch = y.rank() >= 2 ? Arrays.copyOf(yd, y.rank() - 2) : new Dim[0];
        List<Dim> out = new ArrayList<>(Arrays.asList(broadcast(xBatch, yBatch)));
        if (x.rank() >= 2) {
            out.add(xd[x.rank() - 2]);
        }
        if (y.rank() >= 2) {
            out.add(yd[y.rank() - 1]);
        }
        return node("MatMul", x.type(), out.toArray(new Dim[0]), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor matmulTransposedB(Tensor a, Tensor b) {
        TracedTensor x = traced(a);
        TracedTensor w = traced(b);
        sameType("Gemm", x, w);
        if (w.rank() != 2 || x.rank() < 2) {
            throw new IllegalArgumentException("matmulTransposedB needs a of rank >= 2 and a matrix b, got " + x
                    + " and " + w);
        }
        // Gemm with transB reads b in place; ONNX Runtime would fold Transpose(b) into a second copy of the matrix.
        AttributeProto transB = Attributes.of("transB", 1L);
        Dim n = w.dim(0);
        if (x.rank() == 2) {
            return node("Gemm", x.type(), new Dim[] {x.dim(0), n}, List.of(x.name(), w.name()), transB);
        }
        int lead = x.rank() - 1;
        TracedTensor flat = (TracedTensor) reshape(x, Dim.of(-1), w.dim(1));
        TracedTensor y = node("Gemm", x.type(), new Dim[] {flat.dim(0), n}, List.of(flat.name(), w.name()), transB);

        Dim[] outShape = new Dim[lead + 1];
        for (int i = 0; i < lead; i++) {
            outShape[i] = dim(x, i);
        }
        outShape[lead] = n;
        return reshape(y, outShape); // constants; with run-time leading dims, one -1 and the others' tensors
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        TracedTensor t = traced(x);
        return node("Pow", t.type(), t.dims(), List.of(t.name(), ((TracedTensor) scalar(exponent, t.type())).name()));
    }

    @Override
    public Tensor pow(Tensor x, Tensor exponent) {
        return binary("Pow", x, exponent);
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return unary("Sqrt", x);
    }

    @Override
    public Tensor tanh(Tensor x) {
        return unary("Tanh", x);
    }

    @Override
    public Tensor exp(Tensor x) {
        return unary("Exp", x);
    }

    @Override
    public Tensor neg(Tensor x) {
        return unary("Neg", x);
    }

    @Override
    public Tensor relu(Tensor x) {
        return unary("Relu", x);
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return unary("Sigmoid", x);
    }

    @Override
    public Tensor sin(Tensor x) {
        return unary("Sin", x);
    }

    @Override
    public Tensor cos(Tensor x) {
        return unary("Cos", x);
    }

    private TracedTensor unary(String op, Tensor x, AttributeProto... attrs) {
        TracedTensor t = traced(x);
        return node(op, t.type(), t.dims(), List.of(t.name()), attrs);
    }

    @Override
    public Tensor gelu(Tensor x) {
        // x * 0.5 * (1 + erf(x / sqrt 2)), written out so it runs at opset 13 (Gelu arrived in opset 20)
        DType type = traced(x).type();
        Tensor scaled = div(x, scalar((float) Math.sqrt(2.0), type));
        Tensor erf = unary("Erf", scaled);
        Tensor onePlus = add(erf, scalar(1f, type));
        return mul(mul(x, onePlus), scalar(0.5f, type));
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        TracedTensor t = traced(x);
        return unary("Softmax", t, Attributes.of("axis", (long) t.normalize(axis)));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        TracedTensor t = traced(x);
        // an --optimize ort graph may use it below opset 17 too: ONNX Runtime has it as a contrib op from opset 1
        if (opset >= 17 || fusions != null) {
            List<String> inputs = new ArrayList<>(List.of(t.name(), traced(gamma).name()));
            if (beta != null) {
                inputs.add(traced(beta).name());
            }
            return node("LayerNormalization", t.type(), t.dims(), inputs,
                    Attributes.of("axis", -1L), Attributes.of("epsilon", eps));
        }
        // Below opset 17: normalize in float32 (as LayerNormalization's default stash_type does), scale in x's type.
        Tensor x32 = cast(t, DType.FLOAT);
        Tensor mean = reduceMean(x32, -1, true);
        Tensor centered = sub(x32, mean);
        Tensor variance = reduceMean(pow(centered, 2f), -1, true);
        Tensor std = sqrt(add(variance, scalar(eps, DType.FLOAT)));
        Tensor y = mul(cast(div(centered, std), t.type()), gamma);
        return beta == null ? y : add(y, beta);
    }

    @Override
    public Tensor reduceMean(Tensor x, int axis, boolean keepDims) {
        TracedTensor t = traced(x);
        int a = t.normalize(axis);
        List<Dim> out = new ArrayList<>(Arrays.asList(t.dims()));
        if (keepDims) {
            out.set(a, Dim.of(1));
        } else {
            out.remove(a);
        }
        Dim[] dims = out.toArray(new Dim[0]);
        AttributeProto keep = Attributes.of("keepdims", keepDims ? 1L : 0L);
        if (opset >= 18) {
            // axes became an input in opset 18
            return node("ReduceMean", t.type(), dims, List.of(t.name(), constantLongs(a).name()), keep);
        }
        return node("ReduceMean", t.type(), dims, List.of(t.name()), Attributes.ints("axes", (long) a), keep);
    }

    // ---- indices and masks ----

    @Override
    public Tensor range(Dim start, Dim end) {
        checkDim(start);
        checkDim(end);
        if (start.isKnown() && end.isKnown()) {
            long n = Math.max(0, end.value() - start.value());
            long[] values = new long[Math.toIntExact(n)];
            for (int i = 0; i < values.length; i++) {
                values[i] = start.value() + i;
            }
            return constantLongs(values);
        }
        return node("Range", DType.INT64, new Dim[] {sub(end, start)},
                List.of(dimScalarName(start), dimScalarName(end), constantLongScalar(1).name()));
    }

    @Override
    public Tensor cumsum(Tensor x, int axis) {
        TracedTensor t = traced(x);
        return node("CumSum", t.type(), t.dims(), List.of(t.name(), constantLongScalar(t.normalize(axis)).name()));
    }

    @Override
    public Tensor lessOrEqual(Tensor a, Tensor b) {
        return compare("LessOrEqual", a, b);
    }

    @Override
    public Tensor greater(Tensor a, Tensor b) {
        return compare("Greater", a, b);
    }

    private TracedTensor compare(String op, Tensor a, Tensor b) {
        TracedTensor x = traced(a);
        TracedTensor y = traced(b);
        sameType(op, x, y);
        return node(op, DType.BOOL, broadcast(x.dims(), y.dims()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor and(Tensor a, Tensor b) {
        TracedTensor x = traced(a);
        TracedTensor y = traced(b);
        if (x.type() != DType.BOOL || y.type() != DType.BOOL) {
            throw new StepwiseException("And: operands " + x + " and " + y + " must be bool");
        }
        return node("And", DType.BOOL, broadcast(x.dims(), y.dims()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        TracedTensor c = traced(cond);
        TracedTensor x = traced(a);
        TracedTensor y = traced(b);
        if (c.type() != DType.BOOL) {
            throw new StepwiseException("Where: condition " + c + " must be bool");
        }
        sameType("Where", x, y);
        return node("Where", x.type(), broadcast(broadcast(c.dims(), x.dims()), y.dims()),
                List.of(c.name(), x.name(), y.name()));
    }

    // ---- fused layers ----

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        return fusions != null ? fusions.rmsNorm(x, weight, eps) : Ops.super.rmsNorm(x, weight, eps);
    }

    @Override
    public ResidualNorm addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps) {
        return fusions != null ? fusions.addRmsNorm(residual, delta, weight, eps)
                : Ops.super.addRmsNorm(residual, delta, weight, eps);
    }

    @Override
    public RotaryAttention rotaryAttention(RotaryAttention.Spec spec, DecoderInputs inputs) {
        return fusions != null ? fusions.rotaryAttention(spec, inputs) : Ops.super.rotaryAttention(spec, inputs);
    }

    @Override
    public ResidualNorm addLayerNorm(Tensor residual, Tensor delta, Tensor deltaBias, Supplier<Tensor> gamma,
                                     Supplier<Tensor> beta, float eps) {
        return fusions != null ? fusions.addLayerNorm(residual, delta, deltaBias, gamma.get(), beta.get(), eps)
                : Ops.super.addLayerNorm(residual, delta, deltaBias, gamma, beta, eps);
    }

    @Override
    public Tensor biasActivation(String activation, Tensor x, Tensor bias) {
        String op = fusions != null ? OrtFusions.biasActivationOp(activation) : null;
        return op != null ? fusions.biasActivation(op, x, bias) : Ops.super.biasActivation(activation, x, bias);
    }

    @Override
    public CausalAttention causalAttention(CausalAttention.Spec spec, DecoderInputs inputs) {
        return fusions != null ? fusions.causalAttention(spec, inputs) : Ops.super.causalAttention(spec, inputs);
    }

    @Override
    public EncoderAttention encoderAttention(EncoderAttention.Spec spec, Tensor attentionMask) {
        return fusions != null ? fusions.encoderAttention(spec, attentionMask)
                : Ops.super.encoderAttention(spec, attentionMask);
    }

    /**
     * Appends a node of {@code domain} (its opset imported, version 1, when not the default domain) whose outputs
     * have these types and dims (null for an optional output nothing reads: it gets no shape); a null input is an
     * omitted optional input.
     */
    List<TracedTensor> emit(String domain, String op, List<Tensor> inputs, List<DType> types, List<Dim[]> dims,
                            AttributeProto... attrs) {
        if (!domain.isEmpty()) {
            graph.importOpset(domain, 1);
        }
        List<String> names = new ArrayList<>(inputs.size());
        for (Tensor in : inputs) {
            names.add(in == null ? "" : traced(in).name());
        }
        List<String> outs = graph.addNode(domain, op, names, types.size(), attrs);
        List<TracedTensor> result = new ArrayList<>(outs.size());
        for (int i = 0; i < outs.size(); i++) {
            Dim[] d = dims.get(i);
            result.add(d == null ? new TracedTensor(outs.get(i), types.get(i), new Dim[0])
                    : value(outs.get(i), types.get(i), d));
        }
        return result;
    }

    // ---- helpers ----

    /** Appends a single-output node and records what is known of its result. */
    private TracedTensor node(String op, DType type, Dim[] dims, List<String> inputs, AttributeProto... attrs) {
        return value(graph.addNode(op, inputs, attrs), type, dims);
    }

    /** A node output as a traced value, its value_info recorded when its shape is fully known. */
    private TracedTensor value(String name, DType type, Dim[] dims) {
        TracedTensor t = new TracedTensor(name, type, dims);
        long[] shape = t.knownShape();
        if (shape != null) {
            graph.recordValueInfo(GraphBuilder.tensorInfo(name, OnnxTypes.elemType(type), shape));
        }
        return t;
    }

    private static TracedTensor traced(Tensor x) {
        if (x instanceof TracedTensor t) {
            return t;
        }
        throw new IllegalArgumentException("tensor " + x + " does not come from the tracing backend");
    }

    private static Dim[] known(long[] shape) {
        Dim[] dims = new Dim[shape.length];
        for (int i = 0; i < shape.length; i++) {
            dims[i] = Dim.of(shape[i]);
        }
        return dims;
    }

    private static long[] toArray(List<Long> values) {
        long[] a = new long[values.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = values.get(i);
        }
        return a;
    }

    /** True when both describe the same, fully determined shape. */
    private static boolean sameDims(Dim[] a, Dim[] b) {
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (a[i] == null || !a[i].equals(b[i])) {
                return false;
            }
        }
        return true;
    }

    /**
     * Numpy broadcasting of what is known: a known 1 yields to anything; a known size wins over a symbolic one (a
     * symbolic axis can only broadcast against it by being 1 or equal); equal symbolic dims stay; else unknown.
     */
    static Dim[] broadcast(Dim[] a, Dim[] b) {
        int rank = Math.max(a.length, b.length);
        Dim[] out = new Dim[rank];
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.length);
            int ib = i - (rank - b.length);
            Dim da = ia >= 0 ? a[ia] : Dim.of(1);
            Dim db = ib >= 0 ? b[ib] : Dim.of(1);
            out[i] = broadcastOne(da, db);
        }
        return out;
    }

    private static Dim broadcastOne(Dim a, Dim b) {
        if (a != null && isKnown(a, 1)) {
            return b;
        }
        if (b != null && isKnown(b, 1)) {
            return a;
        }
        if (a != null && a.isKnown() && b != null && b.isKnown()) {
            if (a.value() != b.value()) {
                throw new StepwiseException("cannot broadcast sizes " + a.value() + " and " + b.value());
            }
            return a;
        }
        if (a != null && a.isKnown()) {
            return a;
        }
        if (b != null && b.isKnown()) {
            return b;
        }
        return a != null && a.equals(b) ? a : null;
    }
}
