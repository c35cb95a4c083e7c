package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Orders nodes so that each comes after the producers of everything it reads (including what its subgraphs read
 * from outside). Stable: nodes already in order keep their order. A cycle is an error naming a node on it.
 */
public final class TopologicalSort {
    private TopologicalSort() {
    }

    public static ModelProto apply(ModelProto model) {
        return model.toBuilder().setGraph(apply(model.getGraph())).build();
    }

    public static GraphProto apply(GraphProto graph) {
        List<NodeProto> nodes = graph.getNodeList();
        if (isSorted(graph)) {
            return graph;
        }
        Map<String, Integer> producer = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String o : nodes.get(i).getOutputList()) {
                if (!o.isEmpty()) {
                    producer.put(o, i);
                }
            }
        }
        int n = nodes.size();
        int[] pending = new int[n];
        List<List<Integer>> consumers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            consumers.add(new ArrayList<>());
        }
        for (int i = 0; i < n; i++) {
            for (String r : GraphEdits.reads(nodes.get(i))) {
                Integer p = producer.get(r);
                if (p != null && p != i) {
                    pending[i]++;
                    consumers.get(p).add(i);
                }
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < n; i++) {
            if (pending[i] == 0) {
                ready.add(i);
            }
        }
        List<NodeProto> sorted = new ArrayList<>(n);
        while (!ready.isEmpty()) {
            int i = ready.poll();
            sorted.add(nodes.get(i));
            for (int c : consumers.get(i)) {
                if (--pending[c] == 0) {
                    ready.add(c);
                }
            }
        }
        if (sorted.size() != n) {
            for (int i = 0; i < n; i++) {
                if (pending[i] > 0) {
                    throw new StepwiseException("the graph has a cycle through " + NodeContext.describe(nodes.get(i)));
                }
            }
        }
        return graph.toBuilder().clearNode().addAllNode(sorted).build();
    }

    /** Whether every node reads only values defined before it (or outside the graph's nodes). */
    public static boolean isSorted(GraphProto graph) {
        Map<String, Integer> producer = new HashMap<>();
        List<NodeProto> nodes = graph.getNodeList();
        for (int i = 0; i < nodes.size(); i++) {
            for (String o : nodes.get(i).getOutputList()) {
                if (!o.isEmpty()) {
                    producer.put(o, i);
                }
            }
        }
        for (int i = 0; i < nodes.size(); i++) {
            for (String r : GraphEdits.reads(nodes.get(i))) {
                Integer p = producer.get(r);
                if (p != null && p >= i) {
                    return false;
                }
            }
        }
        return true;
    }
}
