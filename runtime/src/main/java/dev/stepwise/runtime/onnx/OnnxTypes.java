package dev.stepwise.runtime.onnx;

import java.nio.ByteBuffer;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;

/** Maps Stepwise element types to ONNX {@code TensorProto.DataType} numbers and back. */
public final class OnnxTypes {
    private OnnxTypes() {
    }

    /** The ONNX element type number ({@code TypeProto.Tensor.elem_type}, {@code TensorProto.data_type}). */
    public static int elemType(DType type) {
        return switch (type) {
            case FLOAT -> TensorProto.DataType.FLOAT_VALUE;
            case FLOAT16 -> TensorProto.DataType.FLOAT16_VALUE;
            case INT64 -> TensorProto.DataType.INT64_VALUE;
            case INT32 -> TensorProto.DataType.INT32_VALUE;
            case BOOL -> TensorProto.DataType.BOOL_VALUE;
        };
    }

    /** The Stepwise type of an ONNX element type number ({@link #elemType}'s inverse); null when Stepwise has none. */
    public static DType dtype(int elemType) {
        for (DType type : DType.values()) {
            if (elemType(type) == elemType) {
                return type;
            }
        }
        return null;
    }

    /** Bytes per element in raw_data / external data; 0 for types without a fixed width (string). */
    public static int byteSize(int elemType) {
        return switch (elemType) {
            case TensorProto.DataType.FLOAT_VALUE, TensorProto.DataType.INT32_VALUE,
                 TensorProto.DataType.UINT32_VALUE -> 4;
            case TensorProto.DataType.INT64_VALUE, TensorProto.DataType.UINT64_VALUE,
                 TensorProto.DataType.DOUBLE_VALUE, TensorProto.DataType.COMPLEX64_VALUE -> 8;
            case TensorProto.DataType.COMPLEX128_VALUE -> 16;
            case TensorProto.DataType.FLOAT16_VALUE, TensorProto.DataType.BFLOAT16_VALUE,
                 TensorProto.DataType.INT16_VALUE, TensorProto.DataType.UINT16_VALUE -> 2;
            case TensorProto.DataType.BOOL_VALUE, TensorProto.DataType.INT8_VALUE,
                 TensorProto.DataType.UINT8_VALUE -> 1;
            default -> 0;
        };
    }

    /** Product of the dims (1 for a scalar). */
    public static long elementCount(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /**
     * Packs a tensor's typed data fields ({@code float_data}, {@code int64_data}, ...; not {@code raw_data}) into
     * {@code b} as little-endian bytes; {@code int32_data} carries every type of 32 bits or less, one element per
     * entry. The one place both model readers unpack them.
     *
     * @return false for an element type that has no such packing (the caller names the tensor in its error)
     */
    public static boolean putTypedData(TensorProto t, ByteBuffer b) {
        int width = byteSize(t.getDataType());
        switch (t.getDataType()) {
            case TensorProto.DataType.FLOAT_VALUE -> t.getFloatDataList().forEach(b::putFloat);
            case TensorProto.DataType.INT64_VALUE -> t.getInt64DataList().forEach(b::putLong);
            case TensorProto.DataType.DOUBLE_VALUE -> t.getDoubleDataList().forEach(b::putDouble);
            case TensorProto.DataType.UINT64_VALUE -> t.getUint64DataList().forEach(b::putLong);
            case TensorProto.DataType.UINT32_VALUE -> t.getUint64DataList().forEach(v -> b.putInt(v.intValue()));
            default -> {
                if (width != 1 && width != 2 && width != 4) {
                    return false;
                }
                for (int v : t.getInt32DataList()) {
                    switch (width) {
                        case 1 -> b.put((byte) v);
                        case 2 -> b.putShort((short) v);
                        default -> b.putInt(v);
                    }
                }
            }
        }
        return true;
    }
}
