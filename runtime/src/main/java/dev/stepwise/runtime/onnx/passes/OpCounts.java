package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/** Node counts by op type ({@code com.microsoft.X} outside the default domain), sorted by name. */
public final class OpCounts {
    private OpCounts() {
    }

    public static SortedMap<String, Integer> of(ModelProto model) {
        return of(model.getGraph());
    }

    public static SortedMap<String, Integer> of(GraphProto graph) {
        SortedMap<String, Integer> counts = new TreeMap<>();
        for (NodeProto n : graph.getNodeList()) {
            counts.merge(key(n), 1, Integer::sum);
        }
        return counts;
    }

    public static String key(NodeProto n) {
        return n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType()
                : n.getDomain() + "." + n.getOpType();
    }

    public static int total(Map<String, Integer> counts) {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** A table with one row per op type and one column per named count (missing counts print as 0). */
    public static String table(Map<String, ? extends Map<String, Integer>> columns) {
        TreeSet<String> ops = new TreeSet<>();
        columns.values().forEach(c -> ops.addAll(c.keySet()));
        int width = Math.max(8, ops.stream().mapToInt(String::length).max().orElse(0));
        StringBuilder sb = new StringBuilder(String.format("%-" + width + "s", "op"));
        for (String name : columns.keySet()) {
            sb.append(String.format(" %" + Math.max(6, name.length()) + "s", name));
        }
        sb.append('\n');
        for (String op : ops) {
            sb.append(String.format("%-" + width + "s", op));
            for (Map.Entry<String, ? extends Map<String, Integer>> c : columns.entrySet()) {
                sb.append(String.format(" %" + Math.max(6, c.getKey().length()) + "d",
                        c.getValue().getOrDefault(op, 0)));
            }
            sb.append('\n');
        }
        sb.append(String.format("%-" + width + "s", "total"));
        for (Map.Entry<String, ? extends Map<String, Integer>> c : columns.entrySet()) {
            sb.append(String.format(" %" + Math.max(6, c.getKey().length()) + "d", total(c.getValue())));
        }
        return sb.append('\n').toString();
    }
}
