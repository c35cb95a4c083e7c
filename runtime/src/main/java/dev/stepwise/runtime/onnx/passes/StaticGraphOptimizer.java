package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a graph whose inputs have fixed dims into a fully static one — the pipeline behind {@code unroll} and
 * {@code simplify}: fold constants (Shape arithmetic included), take the branch of every If whose condition folded,
 * fold again, turn no-op nodes (Reshape to the same shape, Tile by ones, ...) into identities, drop Identity nodes,
 * apply the {@link Fusions} the graph's opset allows, drop dead nodes, sort, and record a fixed-dims value_info for
 * every value. The result is
 * checked: any op that only computes shapes left over, any value without a static shape, or any structural problem
 * is an error naming it.
 */
public final class StaticGraphOptimizer {
    /** Ops that exist only to compute shapes; none may be left in a static graph. */
    public static final Set<String> SHAPE_OPS = Set.of("Shape", "Size", "ConstantOfShape", "Range");

    /**
     * {@code maxFoldElements}: the largest tensor folding materialises. {@code dropUnusedInputs}: remove graph inputs
     * nothing reads any more (e.g. the past of a prefill step once its branch is chosen).
     */
    public record Options(long maxFoldElements, boolean dropUnusedInputs) {
        public static final Options DEFAULT = new Options(GraphInference.DEFAULT_MAX_ELEMENTS, false);

        public Options withDropUnusedInputs(boolean drop) {
            return new Options(maxFoldElements, drop);
        }
    }

    private StaticGraphOptimizer() {
    }

    public static ModelProto optimize(ModelProto model, Path modelDir) {
        return optimize(model, modelDir, Options.DEFAULT);
    }

    public static ModelProto optimize(ModelProto model, Path modelDir, Options options) {
        ModelProto m = TopologicalSort.apply(model);
        for (int round = 0; round < 8; round++) {
            m = ConstantFolding.run(m, modelDir, options.maxFoldElements()).model();
            int ifs = IfBranchSelection.count(m.getGraph());
            if (ifs == 0) {
                break;
            }
            ModelProto selected = IfBranchSelection.apply(m, modelDir);
            if (IfBranchSelection.count(selected.getGraph()) == ifs) {
                m = selected;
                break;
            }
            m = TopologicalSort.apply(selected);
        }
        m = expandLargeConstantsOfShape(m, modelDir, options);
        m = NoOpElimination.apply(m, modelDir);
        m = IdentityElimination.apply(m);
        m = Fusions.apply(m, modelDir);
        m = DeadCodeElimination.apply(m, options.dropUnusedInputs());
        m = TopologicalSort.apply(m);
        m = ShapeInference.annotate(m, modelDir);
        List<String> problems = new ArrayList<>(staticProblems(m));
        problems.addAll(GraphChecker.check(m, modelDir));
        if (!problems.isEmpty()) {
            throw new StepwiseException("the graph '" + m.getGraph().getName() + "' is not static: "
                    + problems.get(0) + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more)" : ""));
        }
        return m;
    }

    /** Shape-only ops left, If nodes left, and values (inputs, outputs, intermediates) without fixed dims. */
    public static List<String> staticProblems(ModelProto model) {
        List<String> problems = new ArrayList<>();
        GraphProto g = model.getGraph();
        for (NodeProto n : g.getNodeList()) {
            boolean standard = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
            if (standard && SHAPE_OPS.contains(n.getOpType())) {
                problems.add(NodeContext.describe(n) + " is left (an op that only computes shapes)");
            } else if (standard && n.getOpType().equals("If")) {
                problems.add(NodeContext.describe(n) + " is left: its condition is not a constant");
            }
        }
        Set<String> typed = new HashSet<>();
        for (ValueInfoProto v : g.getInputList()) {
            requireStatic(v, "input", problems);
            typed.add(v.getName());
        }
        for (ValueInfoProto v : g.getOutputList()) {
            requireStatic(v, "output", problems);
            typed.add(v.getName());
        }
        for (ValueInfoProto v : g.getValueInfoList()) {
            requireStatic(v, "value", problems);
            typed.add(v.getName());
        }
        g.getInitializerList().forEach(t -> typed.add(t.getName()));
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && !typed.contains(o)) {
                    problems.add("value '" + o + "' has no value_info");
                }
            }
        }
        return problems;
    }

    private static void requireStatic(ValueInfoProto v, String what, List<String> problems) {
        if (TensorType.fromValueInfo(v) == null) {
            problems.add(what + " '" + v.getName() + "' has no fixed shape (" + GraphInference.describeShape(v) + ")");
        }
    }

    /**
     * A ConstantOfShape whose shape is a constant but whose result is too large to fold becomes an Expand of its
     * one-element value: the same tensor, computed by a broadcast instead of by shape arithmetic.
     */
    private static ModelProto expandLargeConstantsOfShape(ModelProto model, Path modelDir, Options options) {
        GraphProto g = model.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        g.getInitializerList().forEach(t -> inits.put(t.getName(), t));
        GraphProto.Builder b = g.toBuilder().clearNode();
        boolean changed = false;
        Set<String> names = GraphEdits.definedNames(g);
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("ConstantOfShape") && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx"))
                    && inits.containsKey(n.getInput(0))) {
                TensorProto value = Attrs.getTensor(n, "value");
                TensorProto scalar = value != null ? value.toBuilder().clearDims().build()
                        : ConstantFoldingSupport.zeroFloat();
                String name = n.getOutput(0) + "/value";
                for (int k = 1; names.contains(name); k++) {
                    name = n.getOutput(0) + "/value_" + k;
                }
                names.add(name);
                b.addInitializer(scalar.toBuilder().setName(name));
                b.addNode(NodeProto.newBuilder().setOpType("Expand").setName(n.getName().isEmpty()
                                ? n.getOutput(0) + "/Expand" : n.getName())
                        .addInput(name).addInput(n.getInput(0)).addOutput(n.getOutput(0)));
                changed = true;
            } else {
                b.addNode(n);
            }
        }
        return changed ? model.toBuilder().setGraph(b).build() : model;
    }

    /** Small constants the optimizer writes. */
    static final class ConstantFoldingSupport {
        private ConstantFoldingSupport() {
        }

        static TensorProto zeroFloat() {
            return ConstTensor.scalar(TensorProto.DataType.FLOAT_VALUE, 0).toProto("zero");
        }
    }
}
