package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.passes.TopologicalSort;
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.FunctionProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The checks every ONNX file gets when it is loaded ({@link OnnxModelReader#load}), before any command reads or
 * writes anything: a graph is present; every op domain a node uses is one ONNX Runtime implements (or a function of
 * the model), and ai.onnx is imported at an opset ONNX Runtime 1.22 knows; the graph has no cycle; every initializer's data
 * (raw, typed or external) holds exactly the bytes its dims and type say, and external data lies inside its file.
 * Each problem is one {@link StepwiseException} line that starts with the file.
 */
final class OnnxModelCheck {
    private OnnxModelCheck() {
    }

    /** The newest ai.onnx opset ONNX Runtime 1.22 implements. */
    static final int MAX_DEFAULT_OPSET = 23;

    /** Domains ONNX Runtime's CPU build registers kernels for. */
    static final Set<String> KNOWN_DOMAINS = Set.of("", "ai.onnx", "ai.onnx.ml", "ai.onnx.training",
            "ai.onnx.preview.training", "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental",
            "com.ms.internal.nhwc");

    static void check(OnnxModelReader reader) {
        ModelProto model = reader.model();
        String file = reader.file().toString();
        if (!model.hasGraph()) {
            throw new StepwiseException(file + ": the model has no graph (truncated, or not an ONNX model?)");
        }
        Map<String, Long> opsets = new HashMap<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            opsets.put(normalize(o.getDomain()), o.getVersion());
        }
        Long defaultOpset = opsets.get("");
        if (defaultOpset != null && (defaultOpset < 1 || defaultOpset > MAX_DEFAULT_OPSET)) {
            throw new StepwiseException(file + ": imports ai.onnx opset " + defaultOpset + "; ONNX Runtime 1.22 implements"
                    + " opsets 1 to " + MAX_DEFAULT_OPSET);
        }
        Map<String, Boolean> functions = new HashMap<>();
        for (FunctionProto f : model.getFunctionsList()) {
            functions.put(normalize(f.getDomain()) + "/" + f.getName(), true);
        }
        checkNodes(file, model.getGraph(), opsets, functions);
        try {
            TopologicalSort.apply(model.getGraph());
        } catch (StepwiseException e) {
            throw new StepwiseException(file + ": " + e.getMessage(), e);
        }
        for (TensorProto t : model.getGraph().getInitializerList()) {
            reader.checkInitializer(t);
        }
    }

    private static void checkNodes(String file, GraphProto graph, Map<String, Long> opsets, Map<String, Boolean> functions) {
        for (NodeProto n : graph.getNodeList()) {
            String domain = normalize(n.getDomain());
            String node = "node '" + n.getName() + "' (" + (domain.isEmpty() ? "" : domain + ".") + n.getOpType() + ")";
            boolean function = functions.containsKey(domain + "/" + n.getOpType());
            if (!function && !KNOWN_DOMAINS.contains(domain)) {
                throw new StepwiseException(file + ": " + node + " uses op domain '" + domain
                        + "', which ONNX Runtime does not implement (known: ai.onnx, ai.onnx.ml, com.microsoft)");
            }
            // ONNX Runtime defaults an unlisted contrib domain (its own GreedySearch files omit com.microsoft), not ai.onnx
            if (domain.isEmpty() && !opsets.containsKey(domain)) {
                throw new StepwiseException(file + ": " + node + " uses domain '" + (domain.isEmpty() ? "ai.onnx" : domain)
                        + "', which the model's opset_import does not list");
            }
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && n.getInputList().contains(o)) {
                    throw new StepwiseException(file + ": the graph has a cycle: " + node + " reads its own output '" + o + "'");
                }
            }
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    checkNodes(file, a.getG(), opsets, functions);
                }
                for (GraphProto g : a.getGraphsList()) {
                    checkNodes(file, g, opsets, functions);
                }
            }
        }
    }

    private static String normalize(String domain) {
        return domain.equals("ai.onnx") ? "" : domain;
    }
}
