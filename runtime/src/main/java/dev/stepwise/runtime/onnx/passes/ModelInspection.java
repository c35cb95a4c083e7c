package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;

/** What {@code stepwise inspect} reports about one ONNX file, read without loading its external weights. */
public record ModelInspection(String file, long irVersion, List<String> opsets, List<String> inputs,
                              List<String> outputs, SortedMap<String, Integer> ops, int nodes, int values,
                              int staticValues, List<String> notStatic, int shapeOps, int initializers,
                              long initializerBytes, List<String> externalFiles) {

    public boolean isStatic() {
        return notStatic.isEmpty() && shapeOps == 0;
    }

    public static ModelInspection of(Path file) {
        OnnxModelReader reader = OnnxModelReader.load(file);
        ModelProto m = reader.model();
        GraphProto g = m.getGraph();
        List<String> opsets = new ArrayList<>();
        m.getOpsetImportList().forEach(o -> opsets.add((o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain()) + " "
                + o.getVersion()));
        List<String> inputs = new ArrayList<>();
        Set<String> initNames = new HashSet<>();
        g.getInitializerList().forEach(t -> initNames.add(t.getName()));
        for (ValueInfoProto v : g.getInputList()) {
            if (!initNames.contains(v.getName())) {
                inputs.add(describe(v));
            }
        }
        List<String> outputs = new ArrayList<>();
        g.getOutputList().forEach(v -> outputs.add(describe(v)));
        // static: every graph input, output and node output has a value_info with fixed dims
        Set<String> fixed = new HashSet<>();
        Set<String> declared = new HashSet<>();
        List<ValueInfoProto> all = new ArrayList<>(g.getInputList());
        all.addAll(g.getOutputList());
        all.addAll(g.getValueInfoList());
        for (ValueInfoProto v : all) {
            declared.add(v.getName());
            if (TensorType.fromValueInfo(v) != null) {
                fixed.add(v.getName());
            }
        }
        List<String> names = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (!initNames.contains(v.getName())) {
                names.add(v.getName());
            }
        }
        int shapeOps = 0;
        for (NodeProto n : g.getNodeList()) {
            if ((n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx"))
                    && StaticGraphOptimizer.SHAPE_OPS.contains(n.getOpType())) {
                shapeOps++;
            }
            for (String o : n.getOutputList()) {
                if (!o.isEmpty()) {
                    names.add(o);
                }
            }
        }
        List<String> notStatic = new ArrayList<>();
        for (String n : names) {
            if (!fixed.contains(n)) {
                notStatic.add(n + (declared.contains(n) ? " (dynamic dims)" : " (no value_info)"));
            }
        }
        return new ModelInspection(file.toString(), m.getIrVersion(), opsets, inputs, outputs, OpCounts.of(g),
                g.getNodeCount(), names.size(), names.size() - notStatic.size(), notStatic, shapeOps,
                g.getInitializerCount(), reader.initializerBytes(), new ArrayList<>(reader.externalFiles()));
    }

    static String describe(ValueInfoProto v) {
        if (!v.getType().hasTensorType()) {
            return v.getName() + " (not a tensor)";
        }
        return v.getName() + " " + TensorType.typeName(v.getType().getTensorType().getElemType())
                + GraphInference.describeShape(v);
    }

    public String format() {
        StringBuilder sb = new StringBuilder();
        sb.append(file).append('\n');
        sb.append("  ir_version ").append(irVersion).append(", opsets ").append(String.join(", ", opsets)).append('\n');
        sb.append("  inputs\n");
        inputs.forEach(i -> sb.append("    ").append(i).append('\n'));
        sb.append("  outputs\n");
        outputs.forEach(o -> sb.append("    ").append(o).append('\n'));
        sb.append("  nodes ").append(nodes).append('\n');
        ops.forEach((op, n) -> sb.append(String.format("    %-52s %6d%n", op, n)));
        if (isStatic()) {
            sb.append("  static: yes (all ").append(values).append(" tensors have fixed-dim value_info, no shape ops)\n");
        } else {
            sb.append("  static: no (").append(staticValues).append(" of ").append(values)
                    .append(" tensors have fixed-dim value_info");
            if (shapeOps > 0) {
                sb.append(", ").append(shapeOps).append(" shape ops");
            }
            sb.append(")");
            if (!notStatic.isEmpty()) {
                sb.append("; e.g. ").append(String.join(", ", notStatic.subList(0, Math.min(3, notStatic.size()))));
            }
            sb.append('\n');
        }
        sb.append("  initializers ").append(initializers).append(", ").append(initializerBytes).append(" bytes\n");
        sb.append("  external data ").append(externalFiles.isEmpty() ? "none" : String.join(", ", externalFiles))
                .append('\n');
        return sb.toString();
    }
}
