package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.Arrays;

/** The element type (an ONNX {@code TensorProto.DataType} number) and the fixed dims of one tensor value. */
public record TensorType(int elemType, long[] dims) {

    public TensorType {
        dims = dims.clone();
    }

    public static TensorType of(int elemType, long... dims) {
        return new TensorType(elemType, dims);
    }

    public int rank() {
        return dims.length;
    }

    public long dim(int axis) {
        return dims[axis < 0 ? dims.length + axis : axis];
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public long elementCount() {
        return OnnxTypes.elementCount(dims);
    }

    public TensorType withDims(long... newDims) {
        return new TensorType(elemType, newDims);
    }

    public TensorType withElemType(int newElemType) {
        return new TensorType(newElemType, dims);
    }

    /** A value_info with these fixed dims. */
    public ValueInfoProto toValueInfo(String name) {
        return GraphBuilder.tensorInfo(name, elemType, dims);
    }

    /**
     * The fixed type a value_info declares, or null when it is not a tensor, has no shape, or any dim is symbolic
     * or unknown.
     */
    public static TensorType fromValueInfo(ValueInfoProto v) {
        if (!v.getType().hasTensorType()) {
            return null;
        }
        TypeProto.Tensor t = v.getType().getTensorType();
        if (!t.hasShape()) {
            return null;
        }
        long[] d = new long[t.getShape().getDimCount()];
        for (int i = 0; i < d.length; i++) {
            TensorShapeProto.Dimension dim = t.getShape().getDim(i);
            if (!dim.hasDimValue() || dim.getDimValue() < 0) {
                return null;
            }
            d[i] = dim.getDimValue();
        }
        return new TensorType(t.getElemType(), d);
    }

    public static TensorType fromTensor(TensorProto t) {
        long[] d = new long[t.getDimsCount()];
        for (int i = 0; i < d.length; i++) {
            d[i] = t.getDims(i);
        }
        return new TensorType(t.getDataType(), d);
    }

    /** e.g. {@code float16[1, 8, 16]}. */
    public static String typeName(int elemType) {
        String name = TensorProto.DataType.forNumber(elemType) != null
                ? TensorProto.DataType.forNumber(elemType).name().toLowerCase() : "type" + elemType;
        return name;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorType t && t.elemType == elemType && Arrays.equals(t.dims, dims);
    }

    @Override
    public int hashCode() {
        return 31 * elemType + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return typeName(elemType) + Arrays.toString(dims);
    }
}
