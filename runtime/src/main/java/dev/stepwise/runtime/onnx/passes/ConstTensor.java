package dev.stepwise.runtime.onnx.passes;

import com.google.protobuf.UnsafeByteOperations;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A small constant tensor held in Java memory while folding: masks, shapes, indices, scalars. Never a weight (the
 * folder refuses anything over its element cap). Integer and bool elements live in a {@code long[]}; floating
 * elements (float16, bfloat16, float, double) in a {@code double[]} whose values are always exactly representable
 * in the element type, so rounding happens once per op, as in a runtime computing in that type.
 */
public final class ConstTensor {
    private final int elemType;
    private final long[] dims;
    private final long[] ints;
    private final double[] reals;

    private ConstTensor(int elemType, long[] dims, long[] ints, double[] reals) {
        this.elemType = elemType;
        this.dims = dims;
        this.ints = ints;
        this.reals = reals;
    }

    // ---- construction ----

    /** A tensor of {@code elemType} filled from integers (converted for floating types). */
    public static ConstTensor ofLongs(int elemType, long[] dims, long[] values) {
        if (isFloating(elemType)) {
            return ofDoubles(elemType, dims, Arrays.stream(values).asDoubleStream().toArray());
        }
        check(dims, values.length);
        long[] v = values.clone();
        for (int i = 0; i < v.length; i++) {
            v[i] = wrap(elemType, v[i]);
        }
        return new ConstTensor(elemType, dims.clone(), v, null);
    }

    /** A tensor of {@code elemType} filled from doubles (rounded to the type; truncated for integer types). */
    public static ConstTensor ofDoubles(int elemType, long[] dims, double[] values) {
        check(dims, values.length);
        if (isFloating(elemType)) {
            double[] r = new double[values.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = round(elemType, values[i]);
            }
            return new ConstTensor(elemType, dims.clone(), null, r);
        }
        long[] v = new long[values.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = elemType == DataType.BOOL_VALUE ? (values[i] != 0 ? 1 : 0) : wrap(elemType, (long) values[i]);
        }
        return new ConstTensor(elemType, dims.clone(), v, null);
    }

    public static ConstTensor int64(long[] dims, long... values) {
        return ofLongs(DataType.INT64_VALUE, dims, values);
    }

    /** A 1-D int64 tensor. */
    public static ConstTensor vector(long... values) {
        return ofLongs(DataType.INT64_VALUE, new long[] {values.length}, values);
    }

    public static ConstTensor scalar(int elemType, double value) {
        return ofDoubles(elemType, new long[0], new double[] {value});
    }

    /** Decodes a TensorProto whose bytes (raw, typed fields or external) are {@code data}, little-endian. */
    public static ConstTensor fromProto(TensorProto t, ByteBuffer data) {
        int type = t.getDataType();
        long[] dims = TensorType.fromTensor(t).dims();
        long count = OnnxTypes.elementCount(dims);
        if (count > Integer.MAX_VALUE) {
            throw new StepwiseException("tensor '" + t.getName() + "' is too large to fold");
        }
        int n = (int) count;
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int width = OnnxTypes.byteSize(type);
        if (width == 0 || type == DataType.COMPLEX64_VALUE || type == DataType.COMPLEX128_VALUE) {
            throw new StepwiseException("tensor '" + t.getName() + "': data type " + TensorType.typeName(type)
                    + " cannot be folded");
        }
        if (b.remaining() < (long) n * width) {
            throw new StepwiseException("tensor '" + t.getName() + "' has " + b.remaining() + " bytes of data, expected "
                    + (long) n * width);
        }
        if (isFloating(type)) {
            double[] r = new double[n];
            for (int i = 0; i < n; i++) {
                r[i] = switch (type) {
                    case DataType.FLOAT_VALUE -> b.getFloat();
                    case DataType.DOUBLE_VALUE -> b.getDouble();
                    case DataType.FLOAT16_VALUE -> HalfFloats.f16ToFloat(b.getShort());
                    default -> HalfFloats.bf16ToFloat(b.getShort());
                };
            }
            return new ConstTensor(type, dims, null, r);
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (type) {
                case DataType.INT64_VALUE, DataType.UINT64_VALUE -> b.getLong();
                case DataType.INT32_VALUE -> b.getInt();
                case DataType.UINT32_VALUE -> Integer.toUnsignedLong(b.getInt());
                case DataType.INT16_VALUE -> b.getShort();
                case DataType.UINT16_VALUE -> Short.toUnsignedLong(b.getShort());
                case DataType.INT8_VALUE -> b.get();
                case DataType.UINT8_VALUE -> Byte.toUnsignedLong(b.get());
                case DataType.BOOL_VALUE -> b.get() != 0 ? 1 : 0;
                default -> throw new StepwiseException("tensor '" + t.getName() + "': data type "
                        + TensorType.typeName(type) + " cannot be folded");
            };
        }
        return new ConstTensor(type, dims, v, null);
    }

    /** The tensor as an initializer with raw_data. */
    public TensorProto toProto(String name) {
        int n = size();
        ByteBuffer b = ByteBuffer.allocate(n * OnnxTypes.byteSize(elemType)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (elemType) {
                case DataType.FLOAT_VALUE -> b.putFloat((float) reals[i]);
                case DataType.DOUBLE_VALUE -> b.putDouble(reals[i]);
                case DataType.FLOAT16_VALUE -> b.putShort(HalfFloats.floatToF16((float) reals[i]));
                case DataType.BFLOAT16_VALUE -> b.putShort(HalfFloats.floatToBf16((float) reals[i]));
                case DataType.INT64_VALUE, DataType.UINT64_VALUE -> b.putLong(ints[i]);
                case DataType.INT32_VALUE, DataType.UINT32_VALUE -> b.putInt((int) ints[i]);
                case DataType.INT16_VALUE, DataType.UINT16_VALUE -> b.putShort((short) ints[i]);
                default -> b.put((byte) ints[i]);
            }
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(elemType)
                .setRawData(UnsafeByteOperations.unsafeWrap(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    // ---- access ----

    public int elemType() {
        return elemType;
    }

    public long[] dims() {
        return dims.clone();
    }

    public int rank() {
        return dims.length;
    }

    public TensorType type() {
        return new TensorType(elemType, dims);
    }

    public int size() {
        return ints != null ? ints.length : reals.length;
    }

    public boolean isFloating() {
        return reals != null;
    }

    public long getLong(int i) {
        return ints != null ? ints[i] : (long) reals[i];
    }

    public double getDouble(int i) {
        if (reals != null) {
            return reals[i];
        }
        long v = ints[i];
        return elemType == DataType.UINT64_VALUE && v < 0 ? (v >>> 1) * 2.0 + (v & 1) : v;
    }

    public boolean getBool(int i) {
        return ints != null ? ints[i] != 0 : reals[i] != 0;
    }

    /** Every element as a long (floating values truncated). */
    public long[] toLongs() {
        long[] out = new long[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    public double[] toDoubles() {
        double[] out = new double[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getDouble(i);
        }
        return out;
    }

    /** The same elements with other dims (the element count must match). */
    public ConstTensor reshape(long[] newDims) {
        check(newDims, size());
        return new ConstTensor(elemType, newDims.clone(), ints, reals);
    }

    /** A tensor of the same type and {@code newDims} whose element i is element {@code index[i]} of this one. */
    public ConstTensor gather(long[] newDims, int[] index) {
        check(newDims, index.length);
        if (ints != null) {
            long[] v = new long[index.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = ints[index[i]];
            }
            return new ConstTensor(elemType, newDims.clone(), v, null);
        }
        double[] r = new double[index.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = reals[index[i]];
        }
        return new ConstTensor(elemType, newDims.clone(), null, r);
    }

    /** Converts to another element type with ONNX Cast semantics (float to int truncates toward zero). */
    public ConstTensor cast(int to) {
        if (to == elemType) {
            return this;
        }
        if (reals != null) {
            return ofDoubles(to, dims, reals);
        }
        if (isFloating(to)) {
            double[] r = new double[ints.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = getDouble(i);
            }
            return ofDoubles(to, dims, r);
        }
        if (to == DataType.BOOL_VALUE) {
            long[] v = new long[ints.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = ints[i] != 0 ? 1 : 0;
            }
            return new ConstTensor(to, dims, v, null);
        }
        return ofLongs(to, dims, ints);
    }

    // ---- element types ----

    public static boolean isFloating(int elemType) {
        return elemType == DataType.FLOAT_VALUE || elemType == DataType.FLOAT16_VALUE
                || elemType == DataType.DOUBLE_VALUE || elemType == DataType.BFLOAT16_VALUE;
    }

    /** Whether the folder can hold elements of this type. */
    public static boolean isSupported(int elemType) {
        return isFloating(elemType) || switch (elemType) {
            case DataType.INT64_VALUE, DataType.INT32_VALUE, DataType.INT16_VALUE, DataType.INT8_VALUE,
                 DataType.UINT64_VALUE, DataType.UINT32_VALUE, DataType.UINT16_VALUE, DataType.UINT8_VALUE,
                 DataType.BOOL_VALUE -> true;
            default -> false;
        };
    }

    /** A double rounded to what the floating type can hold. */
    static double round(int elemType, double v) {
        return switch (elemType) {
            case DataType.FLOAT_VALUE -> (float) v;
            case DataType.FLOAT16_VALUE -> HalfFloats.f16ToFloat(HalfFloats.floatToF16((float) v));
            case DataType.BFLOAT16_VALUE -> HalfFloats.bf16ToFloat(HalfFloats.floatToBf16((float) v));
            default -> v;
        };
    }

    /** An integer wrapped to the width of the integer type (two's complement), as a runtime would store it. */
    static long wrap(int elemType, long v) {
        return switch (elemType) {
            case DataType.INT32_VALUE -> (int) v;
            case DataType.INT16_VALUE -> (short) v;
            case DataType.INT8_VALUE -> (byte) v;
            case DataType.UINT32_VALUE -> v & 0xffffffffL;
            case DataType.UINT16_VALUE -> v & 0xffffL;
            case DataType.UINT8_VALUE -> v & 0xffL;
            case DataType.BOOL_VALUE -> v != 0 ? 1 : 0;
            default -> v;
        };
    }

    private static void check(long[] dims, int length) {
        if (OnnxTypes.elementCount(dims) != length) {
            throw new IllegalArgumentException(length + " elements do not fit dims " + Arrays.toString(dims));
        }
    }

    @Override
    public String toString() {
        String values = ints != null ? Arrays.toString(size() > 16 ? Arrays.copyOf(ints, 16) : ints)
                : Arrays.toString(size() > 16 ? Arrays.copyOf(reals, 16) : reals);
        return type() + " " + values;
    }
}
