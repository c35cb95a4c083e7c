package dev.stepwise.runtime.onnx;

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

    /** The Stepwise type of an ONNX element type number; null when Stepwise has no such type. */
    public static DType dtype(int elemType) {
        return switch (elemType) {
            case TensorProto.DataType.FLOAT_VALUE -> DType.FLOAT;
            case TensorProto.DataType.FLOAT16_VALUE -> DType.FLOAT16;
            case TensorProto.DataType.INT64_VALUE -> DType.INT64;
            case TensorProto.DataType.INT32_VALUE -> DType.INT32;
            case TensorProto.DataType.BOOL_VALUE -> DType.BOOL;
            default -> null;
        };
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
}
