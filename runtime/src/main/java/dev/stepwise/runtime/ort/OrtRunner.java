package dev.stepwise.runtime.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a session on host tensors: each input is converted to the element type the graph declares (int64 ids to
 * int32, float to float16 where the graph wants that), and every output comes back as a host float/long tensor.
 * For checks and step chains, where copying small tensors through Java is fine.
 */
public final class OrtRunner {
    private OrtRunner() {
    }

    public static Map<String, HostTensor> run(OrtSession session, Map<String, HostTensor> inputs) {
        OrtEnvironment env = OrtSessions.environment();
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                HostTensor t = inputs.get(e.getKey());
                if (t == null) {
                    throw new StepwiseException("no value for graph input '" + e.getKey() + "'");
                }
                TensorInfo info = (TensorInfo) e.getValue().getInfo();
                feed.put(e.getKey(), create(env, t, info.type));
            }
            Map<String, HostTensor> out = new LinkedHashMap<>();
            try (OrtSession.Result result = session.run(feed)) {
                for (Map.Entry<String, OnnxValue> e : result) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    OnnxJavaType type = t.getInfo().type;
                    if (type == OnnxJavaType.INT64) {
                        long[] data = new long[Math.toIntExact(HostTensor.elementCount(t.getInfo().getShape()))];
                        t.getLongBuffer().get(data);
                        out.put(e.getKey(), HostTensor.ofLongs(data, t.getInfo().getShape()));
                    } else {
                        out.put(e.getKey(), OrtTensors.toHostFloats(t));
                    }
                }
            }
            return out;
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    static OnnxTensor create(OrtEnvironment env, HostTensor t, OnnxJavaType want) throws OrtException {
        if (want == OnnxJavaType.FLOAT16 && t.type() == DType.FLOAT) {
            ByteBuffer b = ByteBuffer.allocateDirect(t.floats().length * 2).order(ByteOrder.nativeOrder());
            for (float f : t.floats()) {
                b.putShort(HalfFloats.floatToF16(f));
            }
            b.flip();
            return OnnxTensor.createTensor(env, b, t.shape(), OnnxJavaType.FLOAT16);
        }
        if (want == OnnxJavaType.FLOAT && t.type() == DType.FLOAT) {
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
        }
        return OrtTensors.create(env, t, want == OnnxJavaType.INT32 ? DType.INT32 : DType.INT64);
    }
}
