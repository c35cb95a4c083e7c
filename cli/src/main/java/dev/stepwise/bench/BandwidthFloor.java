package dev.stepwise.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The memory-bandwidth floor of a batch-1 decode step: the time ONNX Runtime takes to read the model's weight bytes
 * once. Direct buffers of that total size (pieces of at most {@link #MAX_PIECE_BYTES}, so a model of any size can be
 * read) are allocated and filled once and wrapped as ONNX Runtime tensors, so every read is in place (no copy); they
 * are far larger than any cache, so each read streams them from memory, as a decode step streams the weights. One
 * graph reads every piece, one node per piece, in one {@code run}.
 *
 * <p>Several one-node graphs read it, because how fast ONNX Runtime streams memory depends on the kernel: measured
 * on 2 cores, its reductions reach about 16 GB/s and its matrix-vector product over a packed matrix about 21 GB/s,
 * near the machine's read bandwidth. The floor is the fastest of them (see {@link Method}); a floor slower than the
 * decode step itself would prove nothing.
 */
final class BandwidthFloor implements AutoCloseable {
    /** Row width of the tensor the graphs read: rows of 4 KiB. */
    static final int ROW = 1024;

    /** The largest piece: one direct buffer holds at most 2 GiB, and 1 GiB pieces keep the node count small. */
    static final long MAX_PIECE_BYTES = 1L << 30;

    /** The ways the buffer is read, each a single ONNX node over {@code weights [rows, ROW]}. */
    enum Method {
        /** ReduceMax over each row. */
        REDUCE_MAX,
        /** ReduceSum over each row. */
        REDUCE_SUM,
        /** {@code [1, 1, rows] x weights}: the matrix-vector product a batch-1 decode step is made of. */
        MATVEC,
        /**
         * The same product with the weights as a graph initializer, which ONNX Runtime packs once at session
         * creation (its own copy, in the layout its matrix kernel streams best) exactly as it packs the decoder's
         * MatMul weights; each timed read then streams that copy.
         */
        MATVEC_PACKED;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private record Reader(Method method, OrtSession session, Map<String, OnnxTensor> feed) {
    }

    private final List<Reader> readers;
    private final List<OnnxTensor> tensors;
    private final long bytes;

    private BandwidthFloor(List<Reader> readers, List<OnnxTensor> tensors, long bytes) {
        // pieces of a failed open are closed by the caller through close()
        this.readers = readers;
        this.tensors = tensors;
        this.bytes = bytes;
    }

    /** Prepares reads of {@code weightBytes}, rounded up to whole rows, on {@code threads} intra-op threads. */
    static BandwidthFloor open(long weightBytes, int threads) {
        return open(weightBytes, threads, MAX_PIECE_BYTES);
    }

    /** As above, in pieces of at most {@code maxPieceBytes} (at least one row). */
    static BandwidthFloor open(long weightBytes, int threads, long maxPieceBytes) {
        long floats = (weightBytes + Float.BYTES - 1) / Float.BYTES;
        long totalRows = Math.max(1, (floats + ROW - 1) / ROW);
        long maxPieceRows = Math.max(1, maxPieceBytes / (ROW * Float.BYTES));
        int pieces = Math.toIntExact((totalRows + maxPieceRows - 1) / maxPieceRows);
        long rows = (totalRows + pieces - 1) / pieces; // per piece, all pieces alike
        long bytes = rows * ROW * Float.BYTES * pieces;
        OrtEnvironment env = OrtSessions.environment();
        List<OnnxTensor> tensors = new ArrayList<>();
        List<Reader> readers = new ArrayList<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            Map<String, OnnxTensor> weights = new LinkedHashMap<>();
            for (int p = 0; p < pieces; p++) {
                FloatBuffer data = allocate(rows * ROW * Float.BYTES);
                for (int i = 0; i < data.capacity(); i++) {
                    data.put(i, (i % 1009) * 1e-3f); // touch every page now, not during the first timed read
                }
                OnnxTensor w = OnnxTensor.createTensor(env, data, new long[] {rows, ROW});
                tensors.add(w);
                weights.put(weightName(p), w);
            }
            OnnxTensor vector = OnnxTensor.createTensor(env, FloatBuffer.wrap(filled((int) rows, 1e-3f)), new long[] {1, 1, rows});
            tensors.add(vector);
            for (Method m : Method.values()) {
                Map<String, OnnxTensor> feed = new LinkedHashMap<>();
                if (m == Method.MATVEC || m == Method.MATVEC_PACKED) {
                    feed.put("vector", vector);
                }
                if (m != Method.MATVEC_PACKED) {
                    feed.putAll(weights);
                }
                OrtSession session;
                if (m == Method.MATVEC_PACKED) {
                    try (OrtSession.SessionOptions packed = new OrtSession.SessionOptions()) {
                        packed.setIntraOpNumThreads(threads);
                        packed.setInterOpNumThreads(1);
                        packed.addExternalInitializers(new LinkedHashMap<String, ai.onnxruntime.OnnxTensorLike>(weights)); // in place, no copy
                        session = env.createSession(graph(m, rows, pieces), packed);
                    }
                } else {
                    session = env.createSession(graph(m, rows, pieces), options);
                }
                readers.add(new Reader(m, session, feed));
            }
            return new BandwidthFloor(readers, tensors, bytes);
        } catch (OrtException | RuntimeException e) {
            new BandwidthFloor(readers, tensors, bytes).close();
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new StepwiseException("ONNX Runtime cannot load the bandwidth-floor graphs: " + e.getMessage(), e);
        }
    }

    private static String weightName(int piece) {
        return "weights_" + piece;
    }

    /** Pieces the bytes are split into (one node each). */
    int pieces() {
        return readers.isEmpty() ? 0 : (int) tensors.stream().filter(t -> t.getInfo().getShape().length == 2).count();
    }

    /** Bytes one read streams. */
    long bytes() {
        return bytes;
    }

    /**
     * Reads the buffer {@code times} times in a row with one method; returns each read's nanoseconds. Reads of one
     * method run back to back: switching sessions between reads would leave the previous session's worker threads
     * spinning on the cores the next read needs.
     */
    long[] read(Method method, int times) {
        Reader r = readers.get(method.ordinal());
        long[] nanos = new long[times];
        try {
            for (int i = 0; i < times; i++) {
                long started = System.nanoTime();
                r.session().run(r.feed()).close();
                nanos[i] = System.nanoTime() - started;
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed on the bandwidth-floor graph: " + e.getMessage(), e);
        }
        return nanos;
    }

    /** The graph of a method: one node per piece, each reading {@code weights_p [rows, ROW]}. */
    static byte[] graph(Method method, long rows, int pieces) {
        int f = TensorProto.DataType.FLOAT_VALUE;
        GraphBuilder g = new GraphBuilder("bandwidth_floor_" + method.label(), 13);
        if (method == Method.MATVEC || method == Method.MATVEC_PACKED) {
            // [1, 1, rows] as a decode step's [batch, sequence, hidden]: ONNX Runtime runs a 2-D [1, rows]
            // product on one thread, the 3-D one on all of them.
            g.addInput(GraphBuilder.tensorInfo("vector", f, new long[] {1, 1, rows}));
        }
        if (method == Method.REDUCE_SUM) {
            g.addInitializer(TensorProto.newBuilder().setName("axes").setDataType(TensorProto.DataType.INT64_VALUE)
                    .addDims(1).addInt64Data(1).build());
        }
        for (int p = 0; p < pieces; p++) {
            String weights = weightName(p);
            if (method == Method.MATVEC_PACKED) {
                // Declared external; the bytes come from SessionOptions.addExternalInitializers, never from a file.
                g.addInitializer(TensorProto.newBuilder().setName(weights).setDataType(f).addDims(rows).addDims(ROW)
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("in-memory"))
                        .build());
            } else {
                g.addInput(GraphBuilder.tensorInfo(weights, f, new long[] {rows, ROW}));
            }
            String out;
            long[] outShape;
            switch (method) {
                case REDUCE_MAX -> {
                    out = g.addNode("ReduceMax", List.of(weights), Attributes.ints("axes", 1L), Attributes.of("keepdims", 0L));
                    outShape = new long[] {rows};
                }
                case REDUCE_SUM -> {
                    out = g.addNode("ReduceSum", List.of(weights, "axes"), Attributes.of("keepdims", 0L));
                    outShape = new long[] {rows};
                }
                case MATVEC, MATVEC_PACKED -> {
                    out = g.addNode("MatMul", List.of("vector", weights));
                    outShape = new long[] {1, 1, ROW};
                }
                default -> throw new IllegalArgumentException(method.toString());
            }
            g.addOutput(GraphBuilder.tensorInfo(out, f, outShape));
        }
        return g.build(false).toByteArray();
    }

    private static FloatBuffer allocate(long bytes) {
        try {
            return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder()).asFloatBuffer();
        } catch (OutOfMemoryError e) {
            throw new StepwiseException("cannot allocate " + bytes / (1 << 20) + " MiB of direct memory for the"
                    + " bandwidth floor; raise -XX:MaxDirectMemorySize (or -Xmx) in STEPWISE_JAVA_OPTS", e);
        }
    }

    private static float[] filled(int n, float value) {
        float[] a = new float[n];
        Arrays.fill(a, value);
        return a;
    }

    @Override
    public void close() {
        for (Reader r : readers) {
            try {
                r.session().close();
            } catch (OrtException e) {
                // nothing left to do with a session that fails to close
            }
        }
        tensors.forEach(OnnxTensor::close);
    }
}
