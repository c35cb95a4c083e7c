package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Walks a graph in order and works out, for every value, its static type and — when it is a constant small enough
 * to hold — its value. Types need values: a Reshape's output shape is the value of its shape input, which in a
 * foreign graph is usually computed by Shape/Gather/Concat arithmetic, so inference and constant propagation are one
 * walk. Subgraphs of an {@code If} are walked with the enclosing scope as parent.
 */
final class GraphInference {
    /** Largest tensor (elements) folding materialises. */
    static final long DEFAULT_MAX_ELEMENTS = 1L << 20;
    /** Largest external-data initializer (bytes) read to fold something. */
    static final long DEFAULT_MAX_EXTERNAL_BYTES = 1L << 20;

    private final int opset;
    private final Path modelDir;
    private final long maxElements;
    private final long maxExternalBytes;

    GraphInference(int opset, Path modelDir, long maxElements, long maxExternalBytes) {
        this.opset = opset;
        this.modelDir = modelDir;
        this.maxElements = maxElements;
        this.maxExternalBytes = maxExternalBytes;
    }

    static GraphInference forModel(ModelProto model, Path modelDir) {
        return new GraphInference(defaultOpset(model), modelDir, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_EXTERNAL_BYTES);
    }

    static int defaultOpset(ModelProto model) {
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
                return (int) o.getVersion();
            }
        }
        return 13;
    }

    /** Infers the top-level graph. Every graph input must have a fixed shape. */
    Scope run(GraphProto graph) {
        Scope scope = new Scope(null);
        for (ValueInfoProto in : graph.getInputList()) {
            scope.types.put(in.getName(), staticInput(in));
        }
        walk(graph, scope);
        return scope;
    }

    private static TensorType staticInput(ValueInfoProto in) {
        if (!in.getType().hasTensorType()) {
            throw new StepwiseException("graph input '" + in.getName() + "' is not a tensor");
        }
        TensorType t = TensorType.fromValueInfo(in);
        if (t == null) {
            throw new StepwiseException("graph input '" + in.getName() + "' has no fixed shape ("
                    + describeShape(in) + "); fix every input dim first");
        }
        return t;
    }

    static String describeShape(ValueInfoProto v) {
        if (!v.getType().getTensorType().hasShape()) {
            return "no shape";
        }
        StringBuilder sb = new StringBuilder("[");
        List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
        for (int i = 0; i < dims.size(); i++) {
            TensorShapeProto.Dimension d = dims.get(i);
            sb.append(i == 0 ? "" : ", ").append(d.hasDimValue() ? Long.toString(d.getDimValue())
                    : d.hasDimParam() ? d.getDimParam() : "?");
        }
        return sb.append(']').toString();
    }

    /** Infers the nodes of {@code graph} into {@code scope} (whose inputs are already typed). */
    void walk(GraphProto graph, Scope scope) {
        Set<String> inputs = new HashSet<>();
        graph.getInputList().forEach(v -> inputs.add(v.getName()));
        for (TensorProto t : graph.getInitializerList()) {
            if (inputs.contains(t.getName())) {
                continue; // an overridable default: a runtime value, not a constant
            }
            scope.types.put(t.getName(), TensorType.fromTensor(t));
            scope.initializers.put(t.getName(), t);
        }
        for (NodeProto node : graph.getNodeList()) {
            inferNode(node, scope);
        }
        for (ValueInfoProto out : graph.getOutputList()) {
            if (scope.type(out.getName()) == null) {
                throw new StepwiseException("graph output '" + out.getName() + "' is not produced by any node");
            }
        }
    }

    private void inferNode(NodeProto node, Scope scope) {
        TensorType[] in = new TensorType[node.getInputCount()];
        for (int i = 0; i < in.length; i++) {
            String name = node.getInput(i);
            if (name.isEmpty()) {
                continue;
            }
            in[i] = scope.type(name);
            if (in[i] == null) {
                throw new StepwiseException(NodeContext.describe(node) + " reads '" + name
                        + "', which no graph input, initializer or earlier node defines");
            }
        }
        NodeContext c = new NodeContext(node, opset, in, name -> value(scope, name));
        if (node.getOpType().equals("If") && isDefaultDomain(node)) {
            inferIf(c, scope);
            return;
        }
        if (!OpRules.isKnown(node.getDomain(), node.getOpType())) {
            throw new StepwiseException(NodeContext.describe(node) + ": unknown op; Stepwise has no shape rule for "
                    + (node.getDomain().isEmpty() ? "" : node.getDomain() + ".") + node.getOpType());
        }
        List<TensorType> out = OpRules.infer(c);
        if (out.size() < node.getOutputCount()) {
            throw c.fail("has " + node.getOutputCount() + " outputs; the op defines " + out.size());
        }
        for (int i = 0; i < node.getOutputCount(); i++) {
            String name = node.getOutput(i);
            if (!name.isEmpty()) {
                define(scope, name, out.get(i), node);
            }
        }
        fold(c, scope, out);
    }

    private static boolean isDefaultDomain(NodeProto n) {
        return n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
    }

    private static void define(Scope scope, String name, TensorType t, NodeProto node) {
        if (t == null) {
            throw new StepwiseException(NodeContext.describe(node) + ": output '" + name + "' has no type");
        }
        if (scope.defines(name)) {
            throw new StepwiseException(NodeContext.describe(node) + ": output '" + name
                    + "' is already defined by another node, input or initializer");
        }
        for (long d : t.dims()) {
            if (d < 0) {
                throw new StepwiseException(NodeContext.describe(node) + ": output '" + name + "' gets a negative dim "
                        + t);
            }
        }
        scope.types.put(name, t);
    }

    /** Computes the node's outputs when every input is a known constant and the outputs are small enough. */
    private void fold(NodeContext c, Scope scope, List<TensorType> out) {
        NodeProto node = c.node;
        if (!OpEval.canEvaluate(node.getDomain(), node.getOpType())) {
            return;
        }
        for (int i = 0; i < node.getOutputCount(); i++) {
            TensorType t = out.get(i);
            if (!node.getOutput(i).isEmpty() && (t.elementCount() > maxElements || !ConstTensor.isSupported(t.elemType()))) {
                return;
            }
        }
        ConstTensor[] values = new ConstTensor[node.getInputCount()];
        if (!OpEval.needsOnlyTypes(node.getOpType())) {
            // look at node outputs first so that weights are read only when everything else is constant
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < values.length; i++) {
                    String name = node.getInput(i);
                    if (name.isEmpty()) {
                        continue;
                    }
                    boolean isInitializer = isInitializer(scope, name);
                    if ((pass == 0) == isInitializer) {
                        continue;
                    }
                    values[i] = value(scope, name);
                    if (values[i] == null) {
                        return;
                    }
                }
            }
        }
        List<ConstTensor> result = OpEval.eval(c, values, out);
        for (int i = 0; i < node.getOutputCount(); i++) {
            String name = node.getOutput(i);
            if (!name.isEmpty()) {
                ConstTensor v = result.get(i);
                if (!v.type().equals(out.get(i))) {
                    throw c.fail("folding gave " + v.type() + " for output '" + name + "', inference " + out.get(i));
                }
                scope.values.put(name, v);
            }
        }
    }

    private static boolean isInitializer(Scope scope, String name) {
        Scope s = scope.owner(name);
        return s != null && s.initializers.containsKey(name);
    }

    /** The constant value of a name, reading an initializer on first use; null when not a (small) constant. */
    ConstTensor value(Scope scope, String name) {
        Scope s = scope.owner(name);
        if (s == null) {
            return null;
        }
        ConstTensor v = s.values.get(name);
        if (v != null) {
            return v;
        }
        TensorProto t = s.initializers.get(name);
        if (t == null || s.tooLarge.contains(name)) {
            return null;
        }
        long count = OnnxTypes.elementCount(TensorType.fromTensor(t).dims());
        boolean external = InitializerData.isExternal(t);
        if (count > maxElements || !ConstTensor.isSupported(t.getDataType())
                || (external && InitializerData.byteLength(t) > maxExternalBytes)) {
            s.tooLarge.add(name);
            return null;
        }
        v = ConstTensor.fromProto(t, InitializerData.read(t, modelDir));
        s.values.put(name, v);
        return v;
    }

    private void inferIf(NodeContext c, Scope scope) {
        NodeProto node = c.node;
        GraphProto thenBranch = Attrs.getGraph(node, "then_branch");
        GraphProto elseBranch = Attrs.getGraph(node, "else_branch");
        if (thenBranch == null || elseBranch == null) {
            throw c.fail("needs then_branch and else_branch");
        }
        ConstTensor cond = c.valueOrNull(0);
        if (cond != null) {
            GraphProto chosen = cond.getBool(0) ? thenBranch : elseBranch;
            Scope sub = new Scope(scope);
            walk(chosen, sub);
            bindBranchOutputs(c, scope, sub, chosen, true);
            return;
        }
        Scope thenScope = new Scope(scope);
        walk(thenBranch, thenScope);
        Scope elseScope = new Scope(scope);
        walk(elseBranch, elseScope);
        for (int i = 0; i < node.getOutputCount(); i++) {
            TensorType a = thenScope.type(thenBranch.getOutput(i).getName());
            TensorType b = elseScope.type(elseBranch.getOutput(i).getName());
            if (!a.equals(b)) {
                throw c.fail("its condition is not a constant and its branches give output " + i + " different types ("
                        + a + " and " + b + ")");
            }
        }
        bindBranchOutputs(c, scope, thenScope, thenBranch, false);
    }

    private static void bindBranchOutputs(NodeContext c, Scope scope, Scope sub, GraphProto branch, boolean values) {
        NodeProto node = c.node;
        if (branch.getOutputCount() != node.getOutputCount()) {
            throw c.fail("a branch has " + branch.getOutputCount() + " outputs, the node " + node.getOutputCount());
        }
        for (int i = 0; i < node.getOutputCount(); i++) {
            String inner = branch.getOutput(i).getName();
            define(scope, node.getOutput(i), sub.type(inner), node);
            if (values) {
                Scope owner = sub.owner(inner);
                ConstTensor v = owner == null ? null : owner.values.get(inner);
                if (v != null) {
                    scope.values.put(node.getOutput(i), v);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "GraphInference(opset " + opset + ", cap " + maxElements + ", " + Arrays.asList(modelDir) + ")";
    }
}
