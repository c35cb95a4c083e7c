package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * optimum's merged decoder ({@code decoder_model_merged.onnx}): a decoder without a past and its with-past twin as the
 * two branches of one {@code If} on the bool {@code [1]} input {@code use_cache_branch} (then: with past, else:
 * without), the graph's inputs the union of theirs. Weights stored in external data move to the outer graph, once per
 * name, and both branches read them from there, so the merged file points at the same bytes of the same weights file
 * as the two it is made of; small inline constants stay in the branch that uses them.
 *
 * <p>The branches of an {@code If} must have the same outputs. An output only the decoder without a past has (a
 * seq2seq decoder's cross-attention presents: the cross cache does not change after the first step, so the
 * with-past decoder does not output it) is an empty constant in the with-past branch, as optimum's
 * {@code _unify_onnx_outputs} writes it: the declared shape with its first symbolic axis 0 and any later one 1 (for
 * {@code present.0.encoder.key [batch_size, heads, encoder_sequence_length, head_dim]}: {@code [0, heads, 1,
 * head_dim]}). A caller keeps the cross cache of the first step.
 */
public final class DecoderMerge {
    /** The merged graph's branch selector, optimum's name. */
    public static final String USE_CACHE_BRANCH = "use_cache_branch";

    private DecoderMerge() {
    }

    public static ModelProto merge(ModelProto noPast, ModelProto withPast, String graphName) {
        GraphProto without = noPast.getGraph();
        GraphProto with = withPast.getGraph();
        Map<String, TensorProto> weights = new LinkedHashMap<>();
        GraphProto.Builder elseBranch = branch(without, "no_past", weights);
        GraphProto.Builder thenBranch = branch(with, "with_past", weights);

        Map<String, ValueInfoProto> withOutputs = new LinkedHashMap<>();
        with.getOutputList().forEach(o -> withOutputs.put(o.getName(), o));
        thenBranch.clearOutput();
        for (ValueInfoProto out : without.getOutputList()) {
            ValueInfoProto had = withOutputs.remove(out.getName());
            if (had == null) {
                thenBranch.addNode(emptyConstant(out));
            } else if (had.getType().getTensorType().getElemType() != out.getType().getTensorType().getElemType()) {
                throw new IllegalArgumentException("output '" + out.getName() + "' has another type with a past");
            }
            thenBranch.addOutput(out);
        }
        if (!withOutputs.isEmpty()) {
            throw new IllegalArgumentException("the with-past decoder has outputs the decoder lacks: "
                    + withOutputs.keySet());
        }

        List<ValueInfoProto> inputs = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (GraphProto g : List.of(without, with)) {
            for (ValueInfoProto in : g.getInputList()) {
                if (seen.add(in.getName())) {
                    inputs.add(in);
                }
            }
        }
        inputs.add(GraphBuilder.tensorInfo(USE_CACHE_BRANCH, TensorProto.DataType.BOOL_VALUE, List.of(1L)));

        NodeProto.Builder ifNode = NodeProto.newBuilder().setOpType("If").setName("/If").addInput(USE_CACHE_BRANCH)
                .addAttribute(graphAttribute("then_branch", thenBranch.build()))
                .addAttribute(graphAttribute("else_branch", elseBranch.build()));
        without.getOutputList().forEach(o -> ifNode.addOutput(o.getName()));
        GraphProto graph = GraphProto.newBuilder().setName(graphName).addAllInput(inputs)
                .addAllInitializer(weights.values()).addNode(ifNode).addAllOutput(without.getOutputList()).build();

        ModelProto.Builder merged = noPast.toBuilder().clearGraph().clearOpsetImport().setGraph(graph);
        Map<String, OperatorSetIdProto> opsets = new LinkedHashMap<>();
        for (ModelProto m : List.of(noPast, withPast)) {
            for (OperatorSetIdProto o : m.getOpsetImportList()) {
                OperatorSetIdProto had = opsets.putIfAbsent(o.getDomain(), o);
                if (had != null && had.getVersion() != o.getVersion()) {
                    throw new IllegalArgumentException("the decoders import opset " + had.getVersion() + " and "
                            + o.getVersion() + " of domain '" + o.getDomain() + "'");
                }
            }
        }
        merged.addAllOpsetImport(opsets.values());
        return merged.build();
    }

    /** {@code g} as a branch without inputs; its externally stored weights go to {@code weights} (the outer graph). */
    private static GraphProto.Builder branch(GraphProto g, String name, Map<String, TensorProto> weights) {
        GraphProto.Builder b = g.toBuilder().setName(name).clearInput().clearInitializer();
        for (TensorProto t : g.getInitializerList()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
                b.addInitializer(t);
                continue;
            }
            TensorProto had = weights.putIfAbsent(t.getName(), t);
            if (had != null && !had.equals(t)) {
                throw new IllegalArgumentException("the decoders store different weights named '" + t.getName() + "'");
            }
        }
        return b;
    }

    /** A Constant node giving {@code out} as an empty tensor: first symbolic axis 0, later ones 1 (optimum's rule). */
    private static NodeProto emptyConstant(ValueInfoProto out) {
        List<Long> dims = new ArrayList<>();
        boolean zeroed = false;
        for (TensorShapeProto.Dimension d : out.getType().getTensorType().getShape().getDimList()) {
            if (d.hasDimValue()) {
                dims.add(d.getDimValue());
            } else {
                dims.add(zeroed ? 1L : 0L);
                zeroed = true;
            }
        }
        if (!zeroed) {
            throw new IllegalArgumentException("output '" + out.getName() + "' has no symbolic axis to leave empty");
        }
        TensorProto empty = TensorProto.newBuilder().setName(out.getName())
                .setDataType(out.getType().getTensorType().getElemType()).addAllDims(dims).build();
        return NodeProto.newBuilder().setOpType("Constant").setName("/Constant_" + out.getName())
                .addOutput(out.getName()).addAttribute(Attributes.of("value", empty)).build();
    }

    private static AttributeProto graphAttribute(String name, GraphProto g) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(g).build();
    }
}
