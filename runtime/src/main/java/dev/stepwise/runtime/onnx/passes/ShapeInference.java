package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Static shape and element-type inference for a graph whose inputs all have fixed dims. Values that decide shapes
 * (Reshape targets, Expand shapes, Range bounds, Slice starts, ...) are propagated as constants on the way, so
 * graphs full of Shape arithmetic are inferred as well as traced ones. Every op found in decoder exports is covered,
 * including onnxruntime's {@code com.microsoft} fused ops; an op without a rule is an error naming the op and node.
 */
public final class ShapeInference {
    private ShapeInference() {
    }

    /**
     * The type of every value of the top-level graph (inputs, initializers, node outputs), in graph order. External
     * data is read (small tensors only) relative to {@code modelDir}, which may be null for a model without any.
     */
    public static Map<String, TensorType> infer(ModelProto model, Path modelDir) {
        ModelProto sorted = TopologicalSort.apply(model);
        Scope scope = GraphInference.forModel(sorted, modelDir).run(sorted.getGraph());
        Map<String, TensorType> out = new LinkedHashMap<>();
        GraphProto g = sorted.getGraph();
        g.getInputList().forEach(v -> out.put(v.getName(), scope.type(v.getName())));
        g.getInitializerList().forEach(t -> out.putIfAbsent(t.getName(), scope.type(t.getName())));
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    out.put(o, scope.type(o));
                }
            }
        }
        return out;
    }

    /**
     * The model with a fixed-dims value_info for every intermediate value (replacing any it had) and graph outputs
     * declared with their fixed dims. A declared output dim that disagrees with the inferred one is an error.
     */
    public static ModelProto annotate(ModelProto model, Path modelDir) {
        Map<String, TensorType> types = infer(model, modelDir);
        GraphProto g = model.getGraph();
        GraphProto.Builder b = g.toBuilder().clearValueInfo().clearOutput();
        Set<String> io = new HashSet<>();
        g.getInputList().forEach(v -> io.add(v.getName()));
        g.getInitializerList().forEach(t -> io.add(t.getName()));
        for (ValueInfoProto out : g.getOutputList()) {
            TensorType t = types.get(out.getName());
            checkDeclared(out, t);
            io.add(out.getName());
            b.addOutput(t.toValueInfo(out.getName()).toBuilder().setDocString(out.getDocString()));
        }
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && !io.contains(o)) {
                    b.addValueInfo(types.get(o).toValueInfo(o));
                }
            }
        }
        return model.toBuilder().setGraph(b).build();
    }

    private static void checkDeclared(ValueInfoProto declared, TensorType inferred) {
        if (!declared.getType().hasTensorType()) {
            return;
        }
        var tt = declared.getType().getTensorType();
        if (tt.getElemType() != 0 && tt.getElemType() != inferred.elemType()) {
            throw new StepwiseException("graph output '" + declared.getName() + "' is declared "
                    + TensorType.typeName(tt.getElemType()) + " but computes " + inferred);
        }
        if (!tt.hasShape()) {
            return;
        }
        if (tt.getShape().getDimCount() != inferred.rank()) {
            throw new StepwiseException("graph output '" + declared.getName() + "' is declared with rank "
                    + tt.getShape().getDimCount() + " but computes " + inferred);
        }
        for (int i = 0; i < inferred.rank(); i++) {
            var d = tt.getShape().getDim(i);
            if (d.hasDimValue() && d.getDimValue() != inferred.dim(i)) {
                throw new StepwiseException("graph output '" + declared.getName() + "' is declared with dim "
                        + d.getDimValue() + " on axis " + i + " but computes " + inferred);
            }
        }
    }
}
