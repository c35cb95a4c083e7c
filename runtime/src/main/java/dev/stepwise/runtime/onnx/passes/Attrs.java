package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.List;

/** Reads node attributes by name, with defaults. */
final class Attrs {
    private Attrs() {
    }

    static AttributeProto find(NodeProto n, String name) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a;
            }
        }
        return null;
    }

    static boolean has(NodeProto n, String name) {
        return find(n, name) != null;
    }

    static long getInt(NodeProto n, String name, long fallback) {
        AttributeProto a = find(n, name);
        return a == null ? fallback : a.getI();
    }

    static float getFloat(NodeProto n, String name, float fallback) {
        AttributeProto a = find(n, name);
        return a == null ? fallback : a.getF();
    }

    static String getString(NodeProto n, String name, String fallback) {
        AttributeProto a = find(n, name);
        return a == null ? fallback : a.getS().toStringUtf8();
    }

    /** The ints of an INTS attribute, or null when absent. */
    static long[] getInts(NodeProto n, String name) {
        AttributeProto a = find(n, name);
        if (a == null) {
            return null;
        }
        List<Long> list = a.getIntsList();
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    static TensorProto getTensor(NodeProto n, String name) {
        AttributeProto a = find(n, name);
        return a == null || !a.hasT() ? null : a.getT();
    }

    static GraphProto getGraph(NodeProto n, String name) {
        AttributeProto a = find(n, name);
        return a == null || !a.hasG() ? null : a.getG();
    }
}
