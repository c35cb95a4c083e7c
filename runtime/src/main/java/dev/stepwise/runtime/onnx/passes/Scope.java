package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What inference knows about the values of one graph (and, through its parent, of the graphs around a subgraph):
 * the static type of every value and the constant value of those that are constants.
 */
final class Scope {
    final Scope parent;
    final Map<String, TensorType> types = new HashMap<>();
    final Map<String, ConstTensor> values = new HashMap<>();
    /** Initializers that are constants (not overridable graph inputs), read on first use. */
    final Map<String, TensorProto> initializers = new HashMap<>();
    /** Initializers too large to read for folding. */
    final Set<String> tooLarge = new HashSet<>();

    Scope(Scope parent) {
        this.parent = parent;
    }

    TensorType type(String name) {
        for (Scope s = this; s != null; s = s.parent) {
            TensorType t = s.types.get(name);
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    boolean defines(String name) {
        return types.containsKey(name);
    }

    /** The scope that defines {@code name}, or null. */
    Scope owner(String name) {
        for (Scope s = this; s != null; s = s.parent) {
            if (s.types.containsKey(name)) {
                return s;
            }
        }
        return null;
    }
}
