package dev.stepwise.reference;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.EagerOps;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The eager backend: runs a forward on libtorch (DJL's PyTorch engine, CPU, float32) as it is called. It is the
 * reference an ONNX export is validated against, and the PyTorch baseline of the decode benchmark, so every op is
 * one libtorch kernel where one exists and nothing makes a round trip through Java memory.
 *
 * <p>Memory: one {@link NDManager} owns everything this object makes and {@link #close()} frees it all. Weights are
 * loaded once, on first request, and stay until then. Intermediates go to the innermost open {@link TorchScope}
 * ({@link #openScope()}), or to this object when none is open. Each weight is read from the {@link WeightSource}
 * into libtorch's memory once, as float32, and held there until {@link #close()}: one copy of the model.
 *
 * <p>Autograd is off (DJL's default on the thread that loads the engine; this constructor turns it off on its own
 * thread as well, since the mode is thread-local) and no tensor here requires gradients. Not thread-safe: use one
 * TorchOps per thread.
 */
public final class TorchOps implements EagerOps {
    // Beyond 2^24 a float no longer holds every integer, and DJL's arange takes floats.
    private static final long EXACT_FLOAT_INT = 1L << 24;

    /** Weights larger than this are filled in bands of rows, so staging never needs more than this much. */
    private static final long LOAD_BAND_BYTES = 64L << 20;

    private final WeightSource source;
    private final PtNDManager root;
    private final Device device;
    private final Deque<TorchScope> scopes = new ArrayDeque<>();
    private final Map<String, TorchTensor> weights = new HashMap<>();
    private final Map<String, TorchTensor> transposedWeights = new HashMap<>();
    private final Map<Long, PtNDArray> zeroBiases = new HashMap<>();
    // Arrays that live as long as this object (weights and their views): never freed by release() or a scope.
    private final Set<PtNDArray> resident = Collections.newSetFromMap(new IdentityHashMap<>());
    private ByteBuffer staging;
    private boolean closed;

    public TorchOps(WeightSource source) {
        this.source = source;
        this.root = (PtNDManager) TorchEngine.get().newBaseManager();
        this.device = root.getDevice();
        JniUtils.setGradMode(false);
    }

    /**
     * Sets libtorch's intra-op thread count, like {@code torch.set_num_threads(n)}; process-wide. DJL exposes it as
     * {@code JniUtils.setNumThreads} and as the system property {@value TorchEngine#NUM_THREADS} read at engine load
     * (inter-op threads: {@value TorchEngine#NUM_INTEROP_THREADS}, before load only). See {@link TorchEngine}.
     */
    public static void setThreads(int n) {
        TorchEngine.setThreads(n);
    }

    /** libtorch's current intra-op thread count. */
    public static int threads() {
        return TorchEngine.threads();
    }

    // ---- host boundary and memory ----

    /** Copies a host tensor (INT64 or FLOAT) into native memory owned by the current scope. */
    public Tensor input(HostTensor t) {
        ByteBuffer data;
        DataType type;
        if (t.type() == DType.INT64 && t.longs() != null) {
            data = ByteBuffer.allocateDirect(t.longs().length * Long.BYTES).order(ByteOrder.nativeOrder());
            data.asLongBuffer().put(t.longs());
            type = DataType.INT64;
        } else if (t.type() == DType.FLOAT && t.floats() != null) {
            data = ByteBuffer.allocateDirect(t.floats().length * Float.BYTES).order(ByteOrder.nativeOrder());
            data.asFloatBuffer().put(t.floats());
            type = DataType.FLOAT32;
        } else {
            throw new StepwiseException("input " + t + ": only INT64 and FLOAT host tensors are supported");
        }
        return fromHost(data, new Shape(t.shape()), type);
    }

    /** Copies a tensor out to Java memory: floating types as FLOAT, integer and bool types as INT64. */
    public HostTensor toHost(Tensor t) {
        PtNDArray a = unwrap(t);
        long[] shape = a.getShape().getShape();
        DataType type = a.getDataType();
        if (type == DataType.FLOAT32) {
            return HostTensor.ofFloats(a.toFloatArray(), shape);
        }
        if (type == DataType.INT64) {
            return HostTensor.ofLongs(a.toLongArray(), shape);
        }
        DataType wider = type.isFloating() ? DataType.FLOAT32 : DataType.INT64;
        try (PtNDArray c = JniUtils.to(a, wider, device)) {
            return wider == DataType.FLOAT32
                    ? HostTensor.ofFloats(c.toFloatArray(), shape)
                    : HostTensor.ofLongs(c.toLongArray(), shape);
        }
    }

    /** Opens a scope: tensors made until it closes are freed when it closes (see {@link TorchScope}). */
    public TorchScope openScope() {
        checkOpen();
        TorchScope scope = new TorchScope(this, current());
        scopes.push(scope);
        return scope;
    }

    /** In a scope of its own: the body's intermediates are freed as soon as it returns, its result kept. */
    @Override
    public Tensor scoped(java.util.function.Supplier<Tensor> body) {
        try (TorchScope scope = openScope()) {
            return scope.keep(body.get());
        }
    }

    /** Frees these tensors now. Weights are left alone: they live until {@link #close()}. */
    public void release(Tensor... tensors) {
        for (Tensor t : tensors) {
            PtNDArray a = unwrap(t);
            if (!resident.contains(a)) {
                a.close();
            }
        }
    }

    /** Frees every tensor this object made, weights included. Tensors handed out become unusable. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        while (!scopes.isEmpty()) {
            scopes.peek().close();
        }
        weights.clear();
        transposedWeights.clear();
        zeroBiases.clear();
        resident.clear();
        staging = null;
        root.close();
    }

    void endScope(TorchScope scope) {
        if (scopes.peek() != scope) {
            throw new IllegalStateException("scopes must close innermost first");
        }
        scopes.pop();
    }

    // ---- sources ----

    /** Always float32: the reference runs at full precision whatever the export's type. */
    @Override
    public DType floatType() {
        return DType.FLOAT;
    }

    @Override
    public Tensor weight(String name) {
        checkOpen();
        TorchTensor w = weights.get(name);
        if (w == null) {
            w = new TorchTensor(loadWeight(name));
            weights.put(name, w);
            resident.add(w.nd());
        }
        return w;
    }

    /**
     * A transposed view of the {@code [out, in]} weight, the way {@code nn.Linear} multiplies: libtorch's matmul
     * hands the strides to BLAS as a transposed operand, so no transposed copy is ever made or stored.
     */
    @Override
    public Tensor weightTransposed(String name) {
        checkOpen();
        TorchTensor t = transposedWeights.get(name);
        if (t == null) {
            PtNDArray w = unwrap(weight(name));
            if (w.getShape().dimension() != 2) {
                throw new StepwiseException(source.describe() + ": tensor '" + name + "' has shape "
                        + w.getShape() + ", expected a 2-D [out, in] matrix to transpose");
            }
            t = new TorchTensor(JniUtils.transpose(w, 0, 1)); // a view, owned by root like its base
            transposedWeights.put(name, t);
            resident.add(t.nd());
        }
        return t;
    }

    @Override
    public boolean hasWeight(String name) {
        return source.has(name);
    }

    @Override
    public Tensor scalar(float value, DType type) {
        return wrap(JniUtils.full(current(), new Shape(), value, dataType(type), device, SparseFormat.DENSE));
    }

    @Override
    public Tensor longs(long... values) {
        ByteBuffer data = ByteBuffer.allocateDirect(values.length * Long.BYTES).order(ByteOrder.nativeOrder());
        data.asLongBuffer().put(values);
        return fromHost(data, new Shape(values.length), DataType.INT64);
    }

    @Override
    public Tensor floats(float... values) {
        ByteBuffer data = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
        data.asFloatBuffer().put(values);
        return fromHost(data, new Shape(values.length), DataType.FLOAT32);
    }

    // ---- dims ----

    @Override
    public Dim dim(Tensor x, int axis) {
        PtNDArray a = unwrap(x);
        return Dim.of(a.getShape().get(axis(axis, a, "dim")));
    }

    @Override
    public Tensor dimTensor(Dim d) {
        return longs(known(d));
    }

    // ---- layout ----

    @Override
    public Tensor reshape(Tensor x, Dim... shape) {
        long[] dims = new long[shape.length];
        int inferred = 0;
        for (int i = 0; i < shape.length; i++) {
            dims[i] = known(shape[i]);
            if (dims[i] == -1) {
                inferred++;
            } else if (dims[i] < 0) {
                throw new IllegalArgumentException("reshape: bad size " + dims[i] + " in " + Arrays.toString(dims));
            }
        }
        if (inferred > 1) {
            throw new IllegalArgumentException("reshape: at most one -1 allowed, got " + Arrays.toString(dims));
        }
        // A size of 0 is a real 0 (an empty past), never ONNX's "copy this dim".
        return wrap(JniUtils.reshape(unwrap(x), dims));
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        PtNDArray a = unwrap(x);
        int rank = a.getShape().dimension();
        long[] p = new long[rank];
        if (perm.length == 0) {
            for (int i = 0; i < rank; i++) {
                p[i] = rank - 1 - i; // numpy's default: reverse the axes
            }
        } else {
            if (perm.length != rank) {
                throw new IllegalArgumentException("transpose: perm " + Arrays.toString(perm) + " for rank " + rank);
            }
            for (int i = 0; i < rank; i++) {
                p[i] = axis(perm[i], a, "transpose");
            }
        }
        return wrap(JniUtils.permute(a, p)); // a view: copies happen only where a kernel needs them
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        if (xs.length == 0) {
            throw new IllegalArgumentException("concat: no tensors");
        }
        PtNDArray[] arrays = new PtNDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            arrays[i] = unwrap(xs[i]);
        }
        return wrap(JniUtils.cat(arrays, axis(axis, arrays[0], "concat")));
    }

    /** Python slice semantics, like ONNX Slice: negative bounds count from the end, bounds are clamped. */
    @Override
    public Tensor slice(Tensor x, int axis, Dim start, Dim end) {
        PtNDArray a = unwrap(x);
        return wrap(JniUtils.slice(a, axis(axis, a, "slice"), known(start), known(end), 1));
    }

    /** Axes are positions in the output (ONNX Unsqueeze), negative ones counted from the output's end. */
    @Override
    public Tensor unsqueeze(Tensor x, int... axes) {
        PtNDArray a = unwrap(x);
        long[] in = a.getShape().getShape();
        int outRank = in.length + axes.length;
        boolean[] inserted = new boolean[outRank];
        for (int ax : axes) {
            int p = ax < 0 ? ax + outRank : ax;
            if (p < 0 || p >= outRank || inserted[p]) {
                throw new IllegalArgumentException("unsqueeze: bad axes " + Arrays.toString(axes) + " for rank " + in.length);
            }
            inserted[p] = true;
        }
        long[] out = new long[outRank];
        for (int i = 0, j = 0; i < outRank; i++) {
            out[i] = inserted[i] ? 1 : in[j++];
        }
        return wrap(JniUtils.reshape(a, out)); // adding size-1 axes is always a view
    }

    /** {@code table[indices]}: shape {@code indices.shape + table.shape[1:]}; indices must be in {@code [0, rows)}. */
    @Override
    public Tensor gather(Tensor table, Tensor indices) {
        PtNDArray t = unwrap(table);
        PtNDArray idx = unwrap(indices);
        long[] ts = t.getShape().getShape();
        if (ts.length == 0) {
            throw new IllegalArgumentException("gather: table must have rank >= 1");
        }
        if (ts.length == 2) {
            return wrap(JniUtils.embedding(idx, t, false));
        }
        // torch.embedding wants a 2-D table: view the rows as flat vectors, look up, then restore the row shape.
        long[] is = idx.getShape().getShape();
        long[] out = new long[is.length + ts.length - 1];
        System.arraycopy(is, 0, out, 0, is.length);
        System.arraycopy(ts, 1, out, is.length, ts.length - 1);
        try (PtNDArray flat = JniUtils.reshape(t, new long[] {ts[0], rowSize(ts)});
             PtNDArray rows = JniUtils.embedding(idx, flat, false)) {
            return wrap(JniUtils.reshape(rows, out));
        }
    }

    @Override
    public Tensor cast(Tensor x, DType to) {
        PtNDArray a = unwrap(x);
        DataType type = dataType(to);
        return a.getDataType() == type ? x : wrap(JniUtils.to(a, type, device));
    }

    // ---- arithmetic ----

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return wrap(JniUtils.add(unwrap(a), unwrap(b)));
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return wrap(JniUtils.sub(unwrap(a), unwrap(b)));
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return wrap(JniUtils.mul(unwrap(a), unwrap(b)));
    }

    /** Floating: true division. Integer by integer: truncating division, as ONNX Div (torch would give floats). */
    @Override
    public Tensor div(Tensor a, Tensor b) {
        PtNDArray x = unwrap(a);
        PtNDArray y = unwrap(b);
        if (!isIntegral(x.getDataType()) || !isIntegral(y.getDataType())) {
            return wrap(JniUtils.div(x, y));
        }
        DataType result = x.getDataType() == DataType.INT32 && y.getDataType() == DataType.INT32
                ? DataType.INT32 : DataType.INT64;
        // float64 holds every int below 2^53 exactly, and the cast back truncates toward zero like C.
        try (PtNDArray xd = JniUtils.to(x, DataType.FLOAT64, device);
             PtNDArray yd = JniUtils.to(y, DataType.FLOAT64, device);
             PtNDArray q = JniUtils.div(xd, yd)) {
            return wrap(JniUtils.to(q, result, device));
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return wrap(JniUtils.matmul(unwrap(a), unwrap(b)));
    }

    /** {@code F.linear(a, b)} without bias: libtorch multiplies by b's transposed strides, no copy of b. */
    @Override
    public Tensor matmulTransposedB(Tensor a, Tensor b) {
        PtNDArray w = unwrap(b);
        if (w.getShape().dimension() != 2) {
            throw new IllegalArgumentException("matmulTransposedB: b must be 2-D [n, k], got " + w.getShape());
        }
        return wrap(JniUtils.linear(unwrap(a), w, null));
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        PtNDArray a = unwrap(x);
        try (PtNDArray e = JniUtils.full(current(), new Shape(), exponent, DataType.FLOAT32, device, SparseFormat.DENSE)) {
            return wrap(JniUtils.pow(a, e));
        }
    }

    @Override
    public Tensor pow(Tensor x, Tensor exponent) {
        return wrap(JniUtils.pow(unwrap(x), unwrap(exponent)));
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return wrap(JniUtils.sqrt(unwrap(x)));
    }

    @Override
    public Tensor tanh(Tensor x) {
        return wrap(JniUtils.tanh(unwrap(x)));
    }

    @Override
    public Tensor exp(Tensor x) {
        return wrap(JniUtils.exp(unwrap(x)));
    }

    @Override
    public Tensor neg(Tensor x) {
        return wrap(JniUtils.neg(unwrap(x)));
    }

    @Override
    public Tensor relu(Tensor x) {
        return wrap(JniUtils.relu(unwrap(x)));
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return wrap(JniUtils.sigmoid(unwrap(x)));
    }

    /** {@code torch.nn.functional.gelu} with its default {@code approximate='none'}: the exact erf form. */
    @Override
    public Tensor gelu(Tensor x) {
        return wrap(JniUtils.gelu(unwrap(x)));
    }

    @Override
    public Tensor sin(Tensor x) {
        return wrap(JniUtils.sin(unwrap(x)));
    }

    @Override
    public Tensor cos(Tensor x) {
        return wrap(JniUtils.cos(unwrap(x)));
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        PtNDArray a = unwrap(x);
        return wrap(JniUtils.softmax(a, axis(axis, a, "softmax"), a.getDataType()));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        PtNDArray a = unwrap(x);
        long[] shape = a.getShape().getShape();
        if (shape.length == 0) {
            throw new IllegalArgumentException("layerNorm: input must have rank >= 1");
        }
        long width = shape[shape.length - 1];
        PtNDArray b = beta == null ? zeroBias(width) : unwrap(beta); // DJL's binding needs a bias
        return wrap(JniUtils.layerNorm(a, new Shape(width), unwrap(gamma), b, eps));
    }

    @Override
    public Tensor reduceMean(Tensor x, int axis, boolean keepDims) {
        PtNDArray a = unwrap(x);
        return wrap(JniUtils.mean(a, axis(axis, a, "reduceMean"), keepDims));
    }

    // ---- indices and masks ----

    @Override
    public Tensor range(Dim start, Dim end) {
        long s = known(start);
        long e = known(end);
        if (e <= s) {
            return longs(); // empty, as ONNX Range (torch.arange refuses end < start)
        }
        if (Math.abs(s) <= EXACT_FLOAT_INT && Math.abs(e) <= EXACT_FLOAT_INT) {
            return wrap(JniUtils.arange(current(), s, e, 1f, DataType.INT64, device, SparseFormat.DENSE));
        }
        long[] values = new long[Math.toIntExact(e - s)];
        for (int i = 0; i < values.length; i++) {
            values[i] = s + i;
        }
        return longs(values);
    }

    @Override
    public Tensor cumsum(Tensor x, int axis) {
        PtNDArray a = unwrap(x);
        PtNDArray sum = JniUtils.cumSum(a, axis(axis, a, "cumsum"));
        if (sum.getDataType() == a.getDataType()) {
            return wrap(sum);
        }
        // torch widens small integer types to int64; the interface keeps the input's type.
        try (sum) {
            return wrap(JniUtils.to(sum, a.getDataType(), device));
        }
    }

    @Override
    public Tensor lessOrEqual(Tensor a, Tensor b) {
        return wrap(JniUtils.lte(unwrap(a), unwrap(b)));
    }

    @Override
    public Tensor greater(Tensor a, Tensor b) {
        return wrap(JniUtils.gt(unwrap(a), unwrap(b)));
    }

    @Override
    public Tensor and(Tensor a, Tensor b) {
        return wrap(JniUtils.logicalAnd(unwrap(a), unwrap(b)));
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        PtNDArray c = unwrap(cond);
        if (c.getDataType() != DataType.BOOLEAN) {
            throw new IllegalArgumentException("where: condition must be bool, got " + c.getDataType());
        }
        return wrap(JniUtils.where(c, unwrap(a), unwrap(b)));
    }

    // ---- helpers ----

    static PtNDArray unwrap(Tensor t) {
        if (!(t instanceof TorchTensor tt)) {
            throw new IllegalArgumentException("not a tensor of the eager backend: " + t);
        }
        return tt.nd();
    }

    private PtNDManager current() {
        checkOpen();
        return scopes.isEmpty() ? root : (PtNDManager) scopes.peek().manager();
    }

    // libtorch results join the first operand's manager; move them to the current scope.
    private TorchTensor wrap(PtNDArray result) {
        PtNDManager target = current();
        if (result.getManager() != target) {
            result.attach(target);
        }
        return new TorchTensor(result);
    }

    /**
     * A weight as a float32 tensor in libtorch's own memory, filled band by band from the source (converted from
     * bf16/f16 on the way): it exists once, whatever the stored type or size, and no Java buffer ever holds it whole.
     */
    private PtNDArray loadWeight(String name) {
        long[] shape = source.shape(name);
        TensorBytes data = source.bytes(name, DType.FLOAT);
        long count = HostTensor.elementCount(shape);
        if (data.size() != count * Float.BYTES) {
            throw new StepwiseException(source.describe() + ": tensor '" + name + "' has " + data.size()
                    + " bytes of float32, but shape " + Arrays.toString(shape) + " needs " + count * Float.BYTES);
        }
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new StepwiseException("the eager backend needs a little-endian machine to read " + name);
        }
        long rowBytes = shape.length == 0 ? Float.BYTES : data.size() / Math.max(1, shape[0]);
        if (shape.length == 0 || data.size() <= LOAD_BAND_BYTES || rowBytes == 0) {
            ByteBuffer staged = stagingBuffer(data.size());
            data.read(0, staged);
            staged.flip();
            // the staging buffer is reused: the weight gets its own copy
            try (PtNDArray view = root.create(staged, new Shape(shape), DataType.FLOAT32)) {
                return JniUtils.clone(view);
            }
        }
        PtNDArray weight = JniUtils.createEmptyNdArray(root, new Shape(shape), DataType.FLOAT32, device,
                SparseFormat.DENSE);
        long bandRows = Math.max(1, LOAD_BAND_BYTES / rowBytes);
        long[] bandShape = shape.clone();
        for (long r0 = 0; r0 < shape[0]; r0 += bandRows) {
            long n = Math.min(bandRows, shape[0] - r0);
            ByteBuffer staged = stagingBuffer(n * rowBytes);
            data.read(r0 * rowBytes, staged);
            staged.flip();
            bandShape[0] = n;
            try (PtNDArray band = root.create(staged, new Shape(bandShape), DataType.FLOAT32)) {
                JniUtils.indexSet(weight, band, new long[] {r0}, new long[] {r0 + n}, new long[] {1});
            }
        }
        return weight;
    }

    /** The reusable direct buffer weights are staged through, cleared, with room for {@code bytes}. */
    private ByteBuffer stagingBuffer(long bytes) {
        if (staging == null || staging.capacity() < bytes) {
            staging = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        }
        return staging.clear().limit((int) bytes);
    }

    // Host data to a tensor that owns its memory: views of it may then outlive the staging buffer safely.
    private TorchTensor fromHost(ByteBuffer data, Shape shape, DataType type) {
        try (PtNDArray staged = current().create(data, shape, type)) {
            return wrap(JniUtils.clone(staged));
        }
    }

    private PtNDArray zeroBias(long width) {
        return zeroBiases.computeIfAbsent(width, w -> {
            PtNDArray z = JniUtils.createZerosNdArray(root, new Shape(w), DataType.FLOAT32, device, SparseFormat.DENSE);
            resident.add(z);
            return z;
        });
    }

    private static int axis(int axis, PtNDArray a, String op) {
        int rank = a.getShape().dimension();
        int p = axis < 0 ? axis + rank : axis;
        if (p < 0 || p >= rank) {
            throw new IllegalArgumentException(op + ": axis " + axis + " out of range for shape " + a.getShape());
        }
        return p;
    }

    private static long known(Dim d) {
        if (!d.isKnown()) {
            throw new IllegalArgumentException("the eager backend has only known dims, got " + d);
        }
        return d.value();
    }

    private static long rowSize(long[] shape) {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    private static boolean isIntegral(DataType t) {
        return t.isInteger();
    }

    private static DataType dataType(DType t) {
        return switch (t) {
            case INT64 -> DataType.INT64;
            case INT32 -> DataType.INT32;
            case FLOAT -> DataType.FLOAT32;
            case FLOAT16 -> DataType.FLOAT16;
            case BOOL -> DataType.BOOLEAN;
        };
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("TorchOps is closed");
        }
    }
}
