package dev.stepwise.runtime.ort;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;

/** Conversions between {@link HostTensor} and ONNX Runtime tensors. */
public final class OrtTensors {
    private OrtTensors() {
    }

    /**
     * The ONNX Runtime Java type of an ONNX element type number ({@code TensorProto.DataType}); {@code UNKNOWN} for
     * the types its Java API cannot wrap. (ONNX Runtime's own {@code OnnxTensorType.mapFromInt} numbers differently.)
     */
    public static OnnxJavaType javaType(int onnxElemType) {
        return switch (onnxElemType) {
            case TensorProto.DataType.FLOAT_VALUE -> OnnxJavaType.FLOAT;
            case TensorProto.DataType.DOUBLE_VALUE -> OnnxJavaType.DOUBLE;
            case TensorProto.DataType.FLOAT16_VALUE -> OnnxJavaType.FLOAT16;
            case TensorProto.DataType.BFLOAT16_VALUE -> OnnxJavaType.BFLOAT16;
            case TensorProto.DataType.INT64_VALUE -> OnnxJavaType.INT64;
            case TensorProto.DataType.INT32_VALUE -> OnnxJavaType.INT32;
            case TensorProto.DataType.INT16_VALUE -> OnnxJavaType.INT16;
            case TensorProto.DataType.INT8_VALUE -> OnnxJavaType.INT8;
            case TensorProto.DataType.UINT8_VALUE -> OnnxJavaType.UINT8;
            case TensorProto.DataType.BOOL_VALUE -> OnnxJavaType.BOOL;
            default -> OnnxJavaType.UNKNOWN;
        };
    }

    /** The ONNX element type number of a float cache type ({@code FLOAT} or {@code FLOAT16}). */
    public static int onnxFloatType(OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> TensorProto.DataType.FLOAT_VALUE;
            case FLOAT16 -> TensorProto.DataType.FLOAT16_VALUE;
            default -> throw new IllegalArgumentException("not a float type: " + type);
        };
    }

    /**
     * An ORT tensor of the declared type ({@code INT32} inputs get the int64 ids narrowed, {@code FLOAT16} ones the
     * floats rounded to nearest even).
     */
    public static OnnxTensor create(OrtEnvironment env, HostTensor t, DType declared) throws OrtException {
        if (t.type() == DType.FLOAT && declared == DType.FLOAT16) {
            ByteBuffer b = ByteBuffer.allocateDirect(t.floats().length * 2).order(ByteOrder.nativeOrder());
            for (float f : t.floats()) {
                b.putShort(HalfFloats.floatToF16(f));
            }
            b.flip();
            return OnnxTensor.createTensor(env, b, t.shape(), OnnxJavaType.FLOAT16);
        }
        if (t.type() == DType.INT64) {
            if (declared == DType.BOOL) {
                // a bool input (the merged decoder's use_cache_branch) held as 0/1 longs
                ByteBuffer b = ByteBuffer.allocateDirect(t.longs().length).order(ByteOrder.nativeOrder());
                for (long v : t.longs()) {
                    b.put((byte) (v != 0 ? 1 : 0));
                }
                b.flip();
                return OnnxTensor.createTensor(env, b, t.shape(), OnnxJavaType.BOOL);
            }
            if (declared == DType.INT32) {
                int[] narrowed = new int[t.longs().length];
                for (int i = 0; i < narrowed.length; i++) {
                    narrowed[i] = Math.toIntExact(t.longs()[i]);
                }
                return OnnxTensor.createTensor(env, IntBuffer.wrap(narrowed), t.shape());
            }
            return OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape());
        }
        if (t.type() == DType.FLOAT) {
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
        }
        throw new IllegalArgumentException("unsupported host tensor type " + t.type());
    }

    /** Copies an ORT float tensor (float32; float16 is widened) to the host. */
    public static HostTensor toHostFloats(OnnxTensor t) throws OrtException {
        TensorInfo info = t.getInfo();
        long[] shape = info.getShape();
        float[] data = new float[Math.toIntExact(HostTensor.elementCount(shape))];
        if (info.type == OnnxJavaType.FLOAT) {
            t.getFloatBuffer().get(data);
        } else if (info.type == OnnxJavaType.FLOAT16) {
            java.nio.ShortBuffer halves = t.getShortBuffer();
            for (int i = 0; i < data.length; i++) {
                data[i] = dev.stepwise.runtime.checkpoint.HalfFloats.f16ToFloat(halves.get(i));
            }
        } else {
            throw new StepwiseException("expected a float output, got " + info.type);
        }
        return HostTensor.ofFloats(data, shape);
    }
}
