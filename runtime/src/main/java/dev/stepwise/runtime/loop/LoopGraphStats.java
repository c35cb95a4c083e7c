package dev.stepwise.runtime.loop;

import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Operator counts of a graph with its subgraphs (Loop bodies, If branches) included. */
public final class LoopGraphStats {
    private LoopGraphStats() {
    }

    /** Op type → count over the whole model; ops of another domain are keyed {@code domain:Op}. */
    public static Map<String, Integer> opCounts(ModelProto model) {
        Map<String, Integer> counts = new TreeMap<>();
        count(model.getGraph(), counts);
        return counts;
    }

    public static Map<String, Integer> opCounts(Path modelFile) {
        return opCounts(OnnxModelReader.load(modelFile).model());
    }

    public static int nodeCount(Path modelFile) {
        return opCounts(modelFile).values().stream().mapToInt(Integer::intValue).sum();
    }

    /** Node counts per graph: the main graph, then each subgraph by its path of graph names ({@code main/generation_step/sample}). */
    public static Map<String, Integer> nodesPerGraph(ModelProto model) {
        Map<String, Integer> out = new java.util.LinkedHashMap<>();
        perGraph(model.getGraph(), model.getGraph().getName(), out);
        return out;
    }

    private static void perGraph(GraphProto g, String path, Map<String, Integer> out) {
        out.put(path, g.getNodeCount());
        for (NodeProto n : g.getNodeList()) {
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    perGraph(a.getG(), path + "/" + a.getG().getName(), out);
                }
            }
        }
    }

    private static void count(GraphProto g, Map<String, Integer> counts) {
        for (NodeProto n : g.getNodeList()) {
            counts.merge(n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType()
                    : n.getDomain() + ":" + n.getOpType(), 1, Integer::sum);
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    count(a.getG(), counts);
                }
            }
        }
    }
}
