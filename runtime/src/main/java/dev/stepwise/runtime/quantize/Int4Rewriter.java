package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites the weights {@link WeightRewriter} finds into int4 weight-only ops of ONNX Runtime's {@code com.microsoft}
 * domain: a MatMul or Gemm becomes {@code MatMulNBits(A, B, scales[, zero_points])} (bits 4, the scheme's block size
 * and accuracy level; a Gemm bias stays a following Add, which ONNX Runtime fuses into the node's bias input where
 * its kernel takes one), and, with {@code embeddings}, an embedding Gather becomes {@code GatherBlockQuantized}
 * (blocks along the hidden axis). A tied LM head reads the embedding transposed: it gets its own MatMulNBits blocks
 * along the hidden axis, while the embedding lookup stays float or becomes GatherBlockQuantized. The LM head is int8
 * dynamic ({@link DynamicInt8Rewriter}) unless the scheme asks for an int4 head (see {@link Int4Scheme}).
 *
 * <p>Each replacement writes the original node's output, so a static graph's value_info still types it; the one new
 * value (the product before a bias Add) is typed like the output.
 */
final class Int4Rewriter extends WeightRewriter {
    static final String DOMAIN = "com.microsoft";

    private final Int4Scheme scheme;
    private final Int4WeightQuantizer quantizer;
    /** The LM head's form unless the scheme asks for an int4 head. */
    private final DynamicInt8Rewriter head;

    /** Quantizes {@code source} with {@code options}' int4 scheme, weights kept in float and embedding choice. */
    Int4Rewriter(OnnxModelReader source, QuantizedWeights weights, QuantizeOptions options) {
        super(source, weights, options.keepFloat(), options.embeddings());
        scheme = options.int4();
        quantizer = new Int4WeightQuantizer(scheme);
        head = new DynamicInt8Rewriter(source, weights, Int8Scheme.DEFAULT, options.keepFloat(), false,
                Smoothing.none());
    }

    @Override
    List<NodeProto> rewriteMatMul(NodeProto node, Match m, Graph g, String product) {
        if (!scheme.headInt4() && isHead(m)) {
            return head.rewriteMatMul(node, m, g, product);
        }
        TensorProto w = m.tensor();
        long k = w.getDims(m.transposed() ? 1 : 0);
        long n = w.getDims(m.transposed() ? 0 : 1);
        String stem = w.getName() + (m.transposed() ? "_T" : "") + "_Q4";
        List<String> inputs = new ArrayList<>(List.of(node.getInput(0)));
        inputs.addAll(quantized(m, g, stem, "int4 " + scheme.blockSize() + (m.transposed() ? " T" : ""),
                b -> quantizer.matMul(stem, b, w.getDims(0), w.getDims(1), m.transposed(), weights.file()),
                s -> s.named(stem)));
        return List.of(node(baseName(node) + "_MatMulNBits", "MatMulNBits", inputs, product).toBuilder().setDomain(DOMAIN)
                .addAttribute(Attributes.of("K", k)).addAttribute(Attributes.of("N", n))
                .addAttribute(Attributes.of("bits", 4L)).addAttribute(Attributes.of("block_size", (long) scheme.blockSize()))
                .addAttribute(Attributes.of("accuracy_level", (long) scheme.accuracyLevel())).build());
    }

    @Override
    List<NodeProto> rewriteGather(NodeProto node, Match m, Graph g) {
        TensorProto e = m.tensor();
        String stem = e.getName() + "_Q4G";
        List<String> w = quantized(m, g, stem, "int4 gather " + scheme.blockSize(),
                b -> quantizer.gather(stem, b, e.getDims(0), e.getDims(1), weights.file()), s -> s.named(stem));
        List<String> inputs = new ArrayList<>(List.of(w.get(0), node.getInput(1)));
        inputs.addAll(w.subList(1, w.size()));
        return List.of(node(baseName(node) + "_GatherBlockQuantized", "GatherBlockQuantized", inputs, node.getOutput(0))
                .toBuilder().setDomain(DOMAIN).addAttribute(Attributes.of("gather_axis", 0L))
                .addAttribute(Attributes.of("quantize_axis", 1L))
                .addAttribute(Attributes.of("block_size", (long) scheme.blockSize())).build());
    }
}
