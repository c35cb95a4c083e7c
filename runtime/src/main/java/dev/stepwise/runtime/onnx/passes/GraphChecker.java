package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
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
 * ONNX's structural rules, checked on a model: nodes in topological order with every input defined by a graph input,
 * an initializer or an earlier node (or, in a subgraph, an enclosing scope); every value defined once; every domain
 * imported; every value typed (graph inputs and outputs, and a value_info per intermediate); and the recorded types
 * equal to what {@link ShapeInference} computes across every node. Returns the problems, empty when none.
 */
public final class GraphChecker {
    private GraphChecker() {
    }

    /** Structural checks plus type checks (which need static input shapes). */
    public static List<String> check(ModelProto model, Path modelDir) {
        List<String> problems = new ArrayList<>(checkStructure(model));
        if (problems.isEmpty()) {
            problems.addAll(checkTypes(model, modelDir));
        }
        return problems;
    }

    /** Order, definitions, uniqueness and domains; no types. */
    public static List<String> checkStructure(ModelProto model) {
        List<String> problems = new ArrayList<>();
        Set<String> domains = new HashSet<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            domains.add(o.getDomain().equals("ai.onnx") ? "" : o.getDomain());
        }
        checkGraph(model.getGraph(), new HashSet<>(), domains, "", problems);
        return problems;
    }

    private static void checkGraph(GraphProto g, Set<String> outer, Set<String> domains, String where,
                                   List<String> problems) {
        Set<String> defined = new HashSet<>();
        for (ValueInfoProto in : g.getInputList()) {
            define(in.getName(), "graph input", defined, where, problems);
            if (!in.getType().hasTensorType() || in.getType().getTensorType().getElemType() == 0) {
                problems.add(where + "graph input '" + in.getName() + "' has no tensor type");
            }
        }
        Set<String> inputNames = GraphEdits.names(g.getInputList());
        for (TensorProto t : g.getInitializerList()) {
            if (!inputNames.contains(t.getName())) {
                define(t.getName(), "initializer", defined, where, problems);
            }
        }
        Set<String> later = new HashSet<>();
        for (NodeProto n : g.getNodeList()) {
            later.addAll(GraphEdits.nonEmpty(n.getOutputList()));
        }
        for (NodeProto n : g.getNodeList()) {
            String node = where + NodeContext.describe(n);
            if (!domains.contains(n.getDomain().equals("ai.onnx") ? "" : n.getDomain())) {
                problems.add(node + ": domain '" + n.getDomain() + "' is not imported");
            }
            for (String in : n.getInputList()) {
                if (in.isEmpty() || defined.contains(in) || outer.contains(in)) {
                    continue;
                }
                problems.add(node + " reads '" + in + "' " + (later.contains(in)
                        ? "before the node that produces it (not in topological order)"
                        : "which nothing defines"));
            }
            for (var a : n.getAttributeList()) {
                if (a.hasG()) {
                    Set<String> visible = new HashSet<>(outer);
                    visible.addAll(defined);
                    checkGraph(a.getG(), visible, domains, node + " / " + a.getName() + ": ", problems);
                }
            }
            for (String out : n.getOutputList()) {
                if (!out.isEmpty()) {
                    define(out, "node output", defined, where, problems);
                }
            }
        }
        for (ValueInfoProto out : g.getOutputList()) {
            if (!defined.contains(out.getName()) && !outer.contains(out.getName())) {
                problems.add(where + "graph output '" + out.getName() + "' is not defined");
            }
            if (!out.getType().hasTensorType() || out.getType().getTensorType().getElemType() == 0) {
                problems.add(where + "graph output '" + out.getName() + "' has no tensor type");
            }
        }
    }

    private static void define(String name, String what, Set<String> defined, String where, List<String> problems) {
        if (!defined.add(name)) {
            problems.add(where + what + " '" + name + "' redefines a name already in use");
        }
    }

    /**
     * Every intermediate has a value_info, and recorded types (value_info and graph outputs) agree with inference;
     * inference failing is itself a problem.
     */
    public static List<String> checkTypes(ModelProto model, Path modelDir) {
        List<String> problems = new ArrayList<>();
        GraphProto g = model.getGraph();
        Map<String, ValueInfoProto> recorded = new HashMap<>();
        g.getValueInfoList().forEach(v -> recorded.put(v.getName(), v));
        g.getOutputList().forEach(v -> recorded.put(v.getName(), v));
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && !recorded.containsKey(o)) {
                    problems.add("value '" + o + "' (output of " + NodeContext.describe(n) + ") has no value_info");
                }
            }
        }
        Map<String, TensorType> inferred;
        try {
            inferred = ShapeInference.infer(model, modelDir);
        } catch (StepwiseException e) {
            problems.add("shape inference fails: " + e.getMessage());
            return problems;
        }
        for (ValueInfoProto v : recorded.values()) {
            TensorType want = inferred.get(v.getName());
            if (want == null) {
                continue;
            }
            TensorType got = TensorType.fromValueInfo(v);
            if (got == null) {
                problems.add("value '" + v.getName() + "' is recorded without fixed dims ("
                        + GraphInference.describeShape(v) + "); it computes " + want);
            } else if (!got.equals(want)) {
                problems.add("value '" + v.getName() + "' is recorded as " + got + " but computes " + want);
            }
        }
        return problems;
    }
}
