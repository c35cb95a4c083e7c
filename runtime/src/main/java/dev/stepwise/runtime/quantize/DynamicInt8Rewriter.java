package dev.stepwise.runtime.quantize;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Rewrites the weights {@link WeightRewriter} finds into ONNX Runtime's dynamic int8 pattern:
 * <pre>
 * DynamicQuantizeLinear(A) → A_q, A_scale, A_zp          (one per activation: q, k and v projections share it)
 * MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast(float) → Mul(·, A_scale · W_scale)   (+ Add(C) for a Gemm bias)
 * </pre>
 * A transposed weight (Gemm transB, a tied head) is transposed while it is quantized, so B is [K, N] as MatMulInteger
 * wants.
 *
 * <p>ONNX Runtime's {@code quantize_dynamic} leaves Gemm in float (it is not in its IntegerOps registry), so it keeps
 * the LM head of a Stepwise export, often the largest matrix, in fp32; here it is quantized too.
 */
final class DynamicInt8Rewriter extends WeightRewriter {
    private final WeightQuantizer quantizer;
    /** Embedding tables: signed symmetric, one scale per hidden column, whatever the MatMul scheme. */
    private final WeightQuantizer rows = new WeightQuantizer(new Int8Scheme(true, true, false));
    private final Int8Scheme scheme;
    private final Smoothing smoothing;
    /** The weights of a smoothed graph are 7-bit ({@link Smoothing} says why). */
    private final Int8Scheme smoothedScheme;
    private final WeightQuantizer smoothedQuantizer;

    DynamicInt8Rewriter(OnnxModelReader source, QuantizedWeights weights, Int8Scheme scheme, Pattern keepFloat,
                        boolean embeddings, Smoothing smoothing) {
        super(source, weights, keepFloat, embeddings);
        this.scheme = scheme;
        this.quantizer = new WeightQuantizer(scheme);
        this.smoothing = smoothing;
        this.smoothedScheme = new Int8Scheme(scheme.perChannel(), scheme.symmetric(), true);
        this.smoothedQuantizer = new WeightQuantizer(smoothedScheme);
    }

    @Override
    List<NodeProto> rewriteMatMul(NodeProto node, Match m, Graph g, String product) {
        String a = node.getInput(0);
        // smoothing factors belong to the main graph's activations (subgraphs are not calibrated)
        float[] s = g.level.isMain ? smoothing.factors(a) : null;
        List<NodeProto> nodes = new ArrayList<>();
        String[] aq = g.memo.get(a);
        if (aq == null) {
            aq = new String[] {g.unique(a + "_quantized"), g.unique(a + "_scale"), g.unique(a + "_zero_point")};
            String quantizedInput = a;
            if (s != null) {
                float[] inverse = new float[s.length];
                for (int k = 0; k < s.length; k++) {
                    inverse[k] = 1f / s[k];
                }
                quantizedInput = g.unique(a + "_smoothed");
                String factors = g.own(floats(g.unique(a + "_smoothing"), inverse, true));
                nodes.add(node(g.unique(a + "_smooth"), "Mul", List.of(a, factors), quantizedInput));
                g.typedLike(quantizedInput, a);
            }
            nodes.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear")
                    .setName(g.unique(a + "_DynamicQuantizeLinear")).addInput(quantizedInput)
                    .addOutput(aq[0]).addOutput(aq[1]).addOutput(aq[2]).build());
            g.memo.put(a, aq);
            g.typedLike(aq[0], a, TensorProto.DataType.UINT8_VALUE);
            g.typed(aq[1], a, TensorProto.DataType.FLOAT_VALUE);
            g.typed(aq[2], a, TensorProto.DataType.UINT8_VALUE);
        }
        List<String> w = quantizedWeight(m, g, s);
        String y = node.getOutput(0);
        String base = baseName(node);
        String integer = g.unique(y + "_MatMulInteger");
        String cast = g.unique(y + "_cast");
        String scales = g.unique(y + "_scales");
        // a static graph (a step graph) types every value
        g.typedLike(integer, y, TensorProto.DataType.INT32_VALUE);
        g.typedLike(cast, y, TensorProto.DataType.FLOAT_VALUE);
        g.typed(scales, y, TensorProto.DataType.FLOAT_VALUE,
                scheme.perChannel() ? new long[] {m.tensor().getDims(m.transposed() ? 0 : 1)} : new long[0]);
        nodes.add(node(base + "_MatMulInteger", "MatMulInteger", List.of(aq[0], w.get(0), aq[2], w.get(2)), integer));
        nodes.add(node(base + "_cast", "Cast", List.of(integer), cast).toBuilder()
                .addAttribute(Attributes.of("to", (long) TensorProto.DataType.FLOAT_VALUE)).build());
        nodes.add(node(base + "_scales", "Mul", List.of(aq[1], w.get(1)), scales));
        nodes.add(node(base + "_scaled", "Mul", List.of(cast, scales), product));
        return nodes;
    }

    /**
     * {@code Gather(E, ids)} as {@code Cast(Gather(E_q, ids)) · E_scale}: int8 rows and one scale per hidden column
     * ({@code [H]}, broadcast over the gathered rows; embedding ranges differ by hidden dimension far more than by
     * token, and a per-token scale would cost 4 bytes per vocabulary entry). Only the rows used are dequantized, where
     * a DequantizeLinear in front of the Gather (as in Xenova's files) widens the whole table on every run.
     */
    @Override
    List<NodeProto> rewriteGather(NodeProto node, Match m, Graph g) {
        TensorProto e = m.tensor();
        String stem = e.getName() + "_rows";
        List<String> w = quantized(m, g, stem, "int8 rows",
                b -> rows.quantize(stem + "_quantized", b, e.getDims(0), e.getDims(1), false, false, weights.file()),
                q -> List.of(named(q.weight(), stem + "_quantized"), floats(stem + "_scale", q.scales())));
        String ids = node.getInput(1);
        String y = node.getOutput(0);
        String base = baseName(node);
        String rowsOut = g.unique(y + "_rows");
        String cast = g.unique(y + "_cast");
        return List.of(node(base + "_rows", "Gather", List.of(w.get(0), ids), rowsOut),
                node(base + "_cast", "Cast", List.of(rowsOut), cast).toBuilder()
                        .addAttribute(Attributes.of("to", (long) TensorProto.DataType.FLOAT_VALUE)).build(),
                node(base + "_dequantized", "Mul", List.of(cast, w.get(1)), y));
    }

    /**
     * W_q, W_scale, W_zp, added to the graph that holds the float weight (once per graph); with smoothing factors
     * {@code s}, of {@code diag(s) · W} (a weight two activations read with different factors is stored twice).
     */
    private List<String> quantizedWeight(Match m, Graph g, float[] s) {
        TensorProto w = m.tensor();
        String stem = w.getName() + (m.transposed() ? "_T" : "") + (s != null ? "_smoothed" : "");
        String layout = "int8" + (m.transposed() ? " T" : "") + (s != null ? " smoothed " + java.util.Arrays.hashCode(s) : "");
        boolean sevenBit = smoothing.calibrated();
        WeightQuantizer wq = sevenBit ? smoothedQuantizer : quantizer;
        int elemType = (sevenBit ? smoothedScheme : scheme).elemType();
        return quantized(m, g, stem, layout,
                b -> wq.quantize(stem + "_quantized", b, w.getDims(0), w.getDims(1), m.transposed(), s,
                        weights.file()),
                q -> List.of(named(q.weight(), stem + "_quantized"), floats(stem + "_scale", q.scales()),
                        zeroPoints(stem + "_zero_point", q.zeroPoints(), elemType)));
    }

    private static TensorProto floats(String name, float[] values) {
        return floats(name, values, false);
    }

    /** As a vector even when it has one value, with {@code vector}. */
    private static TensorProto floats(String name, float[] values, boolean vector) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        TensorProto t = raw(name, TensorProto.DataType.FLOAT_VALUE, values.length, b.flip());
        return vector && values.length == 1 ? t.toBuilder().addDims(1).build() : t;
    }

    /** One zero point per column; a scalar 0 for symmetric weights (MatMulInteger takes either). */
    private static TensorProto zeroPoints(String name, int[] values, int elemType) {
        if (java.util.Arrays.stream(values).allMatch(z -> z == 0)) {
            values = new int[1];
        }
        ByteBuffer b = ByteBuffer.allocate(values.length);
        for (int v : values) {
            b.put((byte) v);
        }
        return raw(name, elemType, values.length, b.flip());
    }

    /** A scalar for one value (per tensor), else a vector of one value per output column. */
    private static TensorProto raw(String name, int type, int count, ByteBuffer bytes) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(ByteString.copyFrom(bytes));
        if (count > 1) {
            t.addDims(count);
        }
        return t.build();
    }
}
