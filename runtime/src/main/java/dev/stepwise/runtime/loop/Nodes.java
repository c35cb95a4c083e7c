package dev.stepwise.runtime.loop;

import com.google.protobuf.ByteString;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Terse node emission on a {@link GraphBuilder} for the hand-written parts of the loop graph (the token choice and
 * the bookkeeping around the traced decoder step). Constants become initializers named {@code <prefix>_...}, stored
 * once per value; the loop builder later moves every subgraph initializer to the main graph.
 */
final class Nodes {
    /** ONNX's element type for float64 (the project's {@link DType} has none). */
    static final int DOUBLE = TensorProto.DataType.DOUBLE_VALUE;

    private final GraphBuilder graph;
    private final String prefix;
    private final Map<String, String> constants = new HashMap<>();

    Nodes(GraphBuilder graph, String prefix) {
        this.graph = graph;
        this.prefix = prefix;
    }

    GraphBuilder graph() {
        return graph;
    }

    /** A single-output node of the default domain. */
    String op(String type, List<String> inputs, AttributeProto... attributes) {
        return graph.addNode(type, inputs, attributes);
    }

    String op(String type, String a, AttributeProto... attributes) {
        return op(type, List.of(a), attributes);
    }

    String op(String type, String a, String b, AttributeProto... attributes) {
        return op(type, List.of(a, b), attributes);
    }

    String op(String type, String a, String b, String c, AttributeProto... attributes) {
        return op(type, List.of(a, b, c), attributes);
    }

    List<String> ops(String type, int outputs, List<String> inputs, AttributeProto... attributes) {
        return graph.addNode(type, inputs, outputs, attributes);
    }

    /**
     * Makes a value of an enclosing graph readable here: a subgraph refers to it by name without declaring it, and
     * the builder only needs to know the name exists.
     */
    String outer(String name) {
        if (!graph.isNameTaken(name)) {
            graph.reserveName(name);
        }
        return name;
    }

    /** Gives a node output its final name (it must not be read yet). */
    String rename(String value, String name) {
        graph.renameNodeOutput(value, name);
        return name;
    }

    // ---- constants ----

    String i64(long value) {
        return constant(DType.INT64, new long[0], le(8).putLong(value).array(), "i64_" + value);
    }

    String i64s(long... values) {
        ByteBuffer b = le(8 * values.length);
        for (long v : values) {
            b.putLong(v);
        }
        return constant(DType.INT64, new long[] {values.length}, b.array(),
                "i64s_" + Arrays.toString(values).replaceAll("[^0-9-]+", "_"));
    }

    String f32(float value) {
        String hint = Float.isInfinite(value) ? (value > 0 ? "inf" : "neg_inf") : Float.toString(value);
        return constant(DType.FLOAT, new long[0], le(4).putFloat(value).array(), "f32_" + hint);
    }

    String f64(double value) {
        String hint = Double.isInfinite(value) ? (value > 0 ? "inf" : "neg_inf") : Double.toString(value);
        return constant(DOUBLE, new long[0], le(8).putDouble(value).array(), "f64_" + hint);
    }

    String bool(boolean value) {
        return constant(DType.BOOL, new long[0], new byte[] {(byte) (value ? 1 : 0)}, "bool_" + value);
    }

    private String constant(DType type, long[] dims, byte[] raw, String hint) {
        return constant(OnnxTypes.elemType(type), dims, raw, hint);
    }

    private String constant(int elemType, long[] dims, byte[] raw, String hint) {
        String key = elemType + Arrays.toString(dims) + Arrays.toString(raw);
        String existing = constants.get(key);
        if (existing != null) {
            return existing;
        }
        String name = graph.unusedName(prefix + "_" + hint.replace('.', 'p'));
        graph.addInitializer(tensor(name, elemType, dims, raw));
        constants.put(key, name);
        return name;
    }

    static TensorProto tensor(String name, DType type, long[] dims, byte[] raw) {
        return tensor(name, OnnxTypes.elemType(type), dims, raw);
    }

    static TensorProto tensor(String name, int elemType, long[] dims, byte[] raw) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(elemType)
                .setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** A one-element tensor for ConstantOfShape's {@code value} attribute. */
    static AttributeProto fill(DType type, byte[] raw) {
        return Attributes.of("value", tensor("value", type, new long[] {1}, raw));
    }

    static AttributeProto graphAttribute(String name, GraphProto g) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(g).build();
    }

    static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
