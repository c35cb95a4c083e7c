package dev.stepwise.runtime.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs a saved model in ONNX Runtime on host tensors and copies the outputs back. */
final class Ort {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    /** One output: its shape and its elements in whichever array matches its type. */
    record Out(long[] shape, float[] floats, long[] longs, boolean[] bools) {
        long size() {
            return HostTensor.elementCount(shape);
        }
    }

    private Ort() {
    }

    static Map<String, Out> run(Path model, Map<String, HostTensor> feeds) {
        return runShared(model, feeds, Map.of(), Map.of());
    }

    /**
     * Runs with some inputs given as ONNX Runtime values over caller-owned direct buffers and bound again as the
     * pinned outputs named in {@code shared} (output name → input name): ONNX Runtime writes those outputs into the
     * very buffers it reads. Returns the other outputs.
     */
    static Map<String, Out> runShared(Path model, Map<String, HostTensor> feeds, Map<String, OnnxTensor> bound,
                                      Map<String, String> shared) {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = ENV.createSession(model.toString(), options)) {
                Map<String, OnnxTensor> inputs = new LinkedHashMap<>(bound);
                List<OnnxTensor> toClose = new ArrayList<>();
                try {
                    for (var e : feeds.entrySet()) {
                        OnnxTensor t = tensor(e.getValue());
                        toClose.add(t);
                        inputs.put(e.getKey(), t);
                    }
                    Map<String, OnnxValue> pinned = new LinkedHashMap<>();
                    shared.forEach((output, input) -> pinned.put(output, bound.get(input)));
                    java.util.Set<String> requested = new java.util.LinkedHashSet<>(session.getOutputNames());
                    requested.removeAll(pinned.keySet());
                    Map<String, Out> outs = new LinkedHashMap<>();
                    try (OrtSession.Result result = session.run(inputs, requested, pinned)) {
                        for (Map.Entry<String, OnnxValue> e : result) {
                            if (!pinned.containsKey(e.getKey())) {
                                outs.put(e.getKey(), copy((OnnxTensor) e.getValue()));
                            }
                        }
                    }
                    return outs;
                } finally {
                    toClose.forEach(OnnxTensor::close);
                }
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        }
    }

    static OnnxTensor direct(FloatBuffer buffer, long... shape) {
        try {
            return OnnxTensor.createTensor(ENV, buffer, shape);
        } catch (OrtException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    private static OnnxTensor tensor(HostTensor h) throws OrtException {
        if (h.type() == DType.INT64) {
            return OnnxTensor.createTensor(ENV, LongBuffer.wrap(h.longs()), h.shape());
        }
        return OnnxTensor.createTensor(ENV, FloatBuffer.wrap(h.floats()), h.shape());
    }

    private static Out copy(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        int n = (int) HostTensor.elementCount(shape);
        OnnxJavaType type = t.getInfo().type;
        if (type == OnnxJavaType.FLOAT) {
            float[] f = new float[n];
            if (n > 0) {
                t.getFloatBuffer().get(f);
            }
            return new Out(shape, f, null, null);
        }
        if (type == OnnxJavaType.INT64) {
            long[] l = new long[n];
            if (n > 0) {
                t.getLongBuffer().get(l);
            }
            return new Out(shape, null, l, null);
        }
        if (type == OnnxJavaType.BOOL) {
            boolean[] b = new boolean[n];
            if (n > 0) {
                ByteBuffer bytes = t.getByteBuffer();
                for (int i = 0; i < n; i++) {
                    b[i] = bytes.get(i) != 0;
                }
            }
            return new Out(shape, null, null, b);
        }
        throw new AssertionError("unexpected output type " + type);
    }
}
