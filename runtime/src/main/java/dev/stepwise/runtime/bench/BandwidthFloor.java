package dev.stepwise.runtime.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

/**
 * The memory-bandwidth floor of a batch-1 decode step: the time ONNX Runtime takes to read the model's weight bytes
 * once. A one-node graph reduces a float tensor of that size; the tensor wraps one direct buffer, allocated and
 * filled once, so ONNX Runtime reads it in place (no copy in the timed run). The buffer (hundreds of MB) is far
 * larger than any cache, so each run streams it from memory, as a decode step streams the weights.
 */
final class BandwidthFloor {
    /** Row width of the reduced tensor: rows are reduced independently, which spreads them over the threads. */
    static final int ROW = 4096;

    private BandwidthFloor() {
    }

    /** Result: median milliseconds to read {@code bytes} (rounded up to whole rows), and how many runs it took. */
    record Measurement(double medianMillis, long bytesRead, int runs) {
        double gigabytesPerSecond() {
            return bytesRead / (medianMillis / 1e3) / 1e9;
        }
    }

    static Measurement measure(long weightBytes, int threads, int warmup, int runs) {
        long floats = (weightBytes + Float.BYTES - 1) / Float.BYTES;
        long rows = Math.max(1, (floats + ROW - 1) / ROW);
        long bytes = rows * ROW * Float.BYTES;
        if (bytes > Integer.MAX_VALUE) {
            // One direct buffer is limited to 2 GiB; the floor of a larger model scales linearly from a 2 GiB read.
            throw new StepwiseException("the bandwidth floor reads at most 2 GiB at once; this model has "
                    + weightBytes + " bytes of weights");
        }
        FloatBuffer data = allocate(bytes);
        for (int i = 0; i < data.capacity(); i++) {
            data.put(i, (i % 1009) * 1e-3f); // touch every page now, not during the first timed run
        }
        OrtEnvironment env = OrtSessions.environment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            try (OrtSession session = env.createSession(reduceGraph(rows), options);
                 OnnxTensor input = OnnxTensor.createTensor(env, data, new long[] {rows, ROW})) {
                Map<String, OnnxTensor> feed = Map.of("weights", input);
                for (int i = 0; i < warmup; i++) {
                    session.run(feed).close();
                }
                long[] nanos = new long[runs];
                for (int i = 0; i < runs; i++) {
                    long started = System.nanoTime();
                    session.run(feed).close();
                    nanos[i] = System.nanoTime() - started;
                }
                return new Measurement(Median.millis(nanos), bytes, runs);
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed on the bandwidth-floor graph: " + e.getMessage(), e);
        }
    }

    /** {@code weights [rows, ROW] -> ReduceMax over axis 1 -> [rows]}. */
    static byte[] reduceGraph(long rows) {
        GraphBuilder g = new GraphBuilder("bandwidth_floor", 13);
        g.addInput(GraphBuilder.tensorInfo("weights", TensorProto.DataType.FLOAT_VALUE, new long[] {rows, ROW}));
        String max = g.addNode("ReduceMax", List.of("weights"), Attributes.ints("axes", 1L), Attributes.of("keepdims", 0L));
        g.addOutput(GraphBuilder.tensorInfo(max, TensorProto.DataType.FLOAT_VALUE, new long[] {rows}));
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
}
