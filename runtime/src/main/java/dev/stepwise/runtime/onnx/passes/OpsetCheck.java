package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks that every node of the default domain exists in the model's declared opset (an op introduced later than the
 * import, such as LayerNormalization in an opset-13 model, is a problem) and that every other domain is imported.
 */
public final class OpsetCheck {
    /** The opset that introduced each op (ops not listed are taken as available from opset 1). */
    private static final Map<String, Integer> SINCE = new HashMap<>();

    static {
        for (String op : new String[] {"Shape", "Size", "Gather", "Slice", "Concat", "Reshape", "Transpose",
                "MatMul", "Gemm", "Softmax", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Tanh", "Relu",
                "Sigmoid", "Neg", "Cast", "Squeeze", "Unsqueeze", "Split", "ReduceMean", "ReduceSum", "ReduceMax",
                "ReduceMin", "Identity", "Constant", "Equal", "Less", "Greater", "And", "Or", "Not", "Max", "Min",
                "Tile", "Abs", "Log", "Floor", "Ceil", "Reciprocal", "Dropout", "Flatten", "Pad", "ArgMax",
                "ArgMin", "TopK", "Xor", "Sum", "Mean", "Clip", "Sin", "Cos"}) {
            SINCE.put(op, 1);
        }
        SINCE.put("Expand", 8);
        SINCE.put("Erf", 9);
        SINCE.put("Where", 9);
        SINCE.put("ConstantOfShape", 9);
        SINCE.put("OneHot", 9);
        SINCE.put("Sign", 9);
        SINCE.put("IsNaN", 9);
        SINCE.put("Mod", 10);
        SINCE.put("Range", 11);
        SINCE.put("CumSum", 11);
        SINCE.put("GatherElements", 11);
        SINCE.put("GatherND", 11);
        SINCE.put("ScatterND", 11);
        SINCE.put("ScatterElements", 11);
        SINCE.put("Round", 11);
        SINCE.put("LessOrEqual", 12);
        SINCE.put("GreaterOrEqual", 12);
        SINCE.put("Einsum", 12);
        SINCE.put("Trilu", 14);
        SINCE.put("CastLike", 15);
        SINCE.put("LayerNormalization", 17);
        SINCE.put("Gelu", 20);
        SINCE.put("RMSNormalization", 23);
    }

    private OpsetCheck() {
    }

    public static List<String> check(ModelProto model) {
        int opset = GraphInference.defaultOpset(model);
        Map<String, Long> domains = new HashMap<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            domains.put(o.getDomain().equals("ai.onnx") ? "" : o.getDomain(), o.getVersion());
        }
        List<String> problems = new ArrayList<>();
        for (NodeProto n : model.getGraph().getNodeList()) {
            String domain = n.getDomain().equals("ai.onnx") ? "" : n.getDomain();
            if (!domains.containsKey(domain)) {
                problems.add(NodeContext.describe(n) + ": domain '" + domain + "' is not imported");
                continue;
            }
            if (!domain.isEmpty()) {
                continue;
            }
            Integer since = SINCE.get(n.getOpType());
            if (since != null && since > opset) {
                problems.add(NodeContext.describe(n) + ": " + n.getOpType() + " needs opset " + since
                        + " but the model imports opset " + opset);
            }
        }
        return problems;
    }
}
