package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.Arrays;
import java.util.function.Function;

/** One node during inference: its input types, and the values of those inputs that are known constants. */
final class NodeContext {
    final NodeProto node;
    final int opset;
    private final TensorType[] types;
    private final Function<String, ConstTensor> values;

    NodeContext(NodeProto node, int opset, TensorType[] types, Function<String, ConstTensor> values) {
        this.node = node;
        this.opset = opset;
        this.types = types;
        this.values = values;
    }

    int inputCount() {
        return node.getInputCount();
    }

    /** Whether optional input i is given (present and not the empty name). */
    boolean has(int i) {
        return i < node.getInputCount() && !node.getInput(i).isEmpty();
    }

    TensorType type(int i) {
        if (!has(i)) {
            throw fail("input " + i + " is required");
        }
        return types[i];
    }

    long[] dims(int i) {
        return type(i).dims();
    }

    int elemType(int i) {
        return type(i).elemType();
    }

    /** The constant value of input i, or null when it is not known at this point. */
    ConstTensor valueOrNull(int i) {
        return has(i) ? values.apply(node.getInput(i)) : null;
    }

    /** The value of an input that decides a shape; a clear error when it is not a constant. */
    ConstTensor value(int i, String what) {
        ConstTensor v = valueOrNull(i);
        if (v == null) {
            throw fail("its " + what + " (input '" + node.getInput(i) + "') is not a constant, so the output shape"
                    + " cannot be made static");
        }
        return v;
    }

    long[] longs(int i, String what) {
        return value(i, what).toLongs();
    }

    long attrInt(String name, long fallback) {
        return Attrs.getInt(node, name, fallback);
    }

    float attrFloat(String name, float fallback) {
        return Attrs.getFloat(node, name, fallback);
    }

    long[] attrInts(String name) {
        return Attrs.getInts(node, name);
    }

    String attrString(String name, String fallback) {
        return Attrs.getString(node, name, fallback);
    }

    /** Axes from input i when given, else from the attribute (ops that moved axes to an input over opsets). */
    long[] axes(int inputIndex, String attr) {
        if (has(inputIndex)) {
            return longs(inputIndex, "axes");
        }
        return attrInts(attr);
    }

    String describe() {
        return describe(node);
    }

    static String describe(NodeProto n) {
        String op = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType()
                : n.getDomain() + "." + n.getOpType();
        String name = n.getName().isEmpty() ? (n.getOutputCount() > 0 ? "producing '" + n.getOutput(0) + "'" : "")
                : "'" + n.getName() + "'";
        return op + " node " + name;
    }

    StepwiseException fail(String message) {
        return new StepwiseException(describe() + ": " + message);
    }

    int normalizeAxis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw fail("axis " + axis + " is out of range for rank " + rank);
        }
        return (int) a;
    }

    @Override
    public String toString() {
        return describe() + " " + Arrays.toString(types);
    }
}
