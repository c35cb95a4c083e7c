package dev.stepwise.runtime.quantize;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Rewrites the MatMuls and Gemms {@link WeightRewriter} finds into the QDQ form of ONNX's opset 13, with activation
 * ranges from calibration ({@link Calibrator}):
 * <pre>
 * A → QuantizeLinear(A_scale, A_zero_point) → DequantizeLinear → ┐        (uint8, one pair per activation)
 * W_quantized (int8) → DequantizeLinear(W_scale, W_zero_point, axis) ─→ MatMul / Gemm → Y (float)
 * </pre>
 * Names are those of ONNX Runtime's QDQ quantizer ({@code A_QuantizeLinear_Output}, {@code A_DequantizeLinear_Output},
 * {@code A_scale}, {@code W_quantized}, ...), so the same tensor gets the same names and, with one calibration for a
 * whole folder, the same scale in every graph that holds it (every step graph of an unrolled folder).
 *
 * <p>Weights are int8 symmetric with one scale per output channel: {@code axis} 1 of a MatMul's [K, N], {@code axis}
 * 0 of a transB Gemm's [N, K], which keeps its layout (ONNX Runtime's choice for both); a tied LM head {@code
 * MatMul(A, Transpose(E))} reads E transposed to [K, N] and drops the Transpose. Zero points are int8 vectors of 0,
 * the scale's shape, as DequantizeLinear wants. Per-channel scales and zero points are stored in the weights file
 * beside the int8 weight, once per folder; activation scales are scalars in the graph. Y stays float: no
 * QuantizeLinear follows the MatMul (ONNX Runtime's {@code OpTypesToExcludeOutputQuantization} for MatMul and Gemm),
 * so ONNX Runtime fuses the group into {@code MatMulIntegerToFloat} and the logits are not rounded to 8 bits; a Gemm
 * bias stays float, a following Add (as in the other modes). A MatMul whose activation was never observed in
 * calibration (a graph the calibration could not run) stays float, and is reported.
 */
final class StaticQdqRewriter extends WeightRewriter {
    /** The scheme, for reports. */
    static final String SCHEME = "activations uint8 asymmetric per-tensor, weights int8 symmetric per-channel (QDQ)";

    private final ActivationRanges ranges;
    private final WeightQuantizer quantizer;
    private final Set<String> uncalibrated = new LinkedHashSet<>();

    /** {@code weightRange}: whether the per-channel symmetric weights use 7 bits (see {@link Int8Scheme}). */
    StaticQdqRewriter(OnnxModelReader source, QuantizedWeights weights, ActivationRanges ranges, Pattern keepFloat,
                      boolean reduceRange) {
        super(source, weights, keepFloat, false);
        this.ranges = ranges;
        this.quantizer = new WeightQuantizer(new Int8Scheme(true, true, reduceRange));
    }

    /** The activations of {@code source}'s main graph that calibration has to observe. */
    static Set<String> activations(OnnxModelReader source, Pattern keepFloat) {
        return new StaticQdqRewriter(source, null, null, keepFloat, true).activations();
    }

    /** Activations of matched MatMuls that calibration never saw (those MatMuls stayed float). */
    Set<String> uncalibrated() {
        return uncalibrated;
    }

    @Override
    boolean quantizes(NodeProto node, Match m) {
        if (ranges.has(node.getInput(0))) {
            return true;
        }
        uncalibrated.add(node.getInput(0));
        return false;
    }

    @Override
    List<NodeProto> rewriteMatMul(NodeProto node, Match m, Graph g, String product) {
        List<NodeProto> nodes = new ArrayList<>();
        String a = node.getInput(0);
        String y = node.getOutput(0);
        String[] aDq = g.memo.get(a);
        if (aDq == null) {
            ActivationQuant q = ranges.quant(a);
            String scale = g.own(raw(g.unique(a + "_scale"), TensorProto.DataType.FLOAT_VALUE,
                    ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, q.scale())));
            String zp = g.own(raw(g.unique(a + "_zero_point"), TensorProto.DataType.UINT8_VALUE,
                    ByteBuffer.wrap(new byte[] {(byte) q.zeroPoint()})));
            String aQ = g.unique(a + "_QuantizeLinear_Output");
            aDq = new String[] {g.unique(a + "_DequantizeLinear_Output")};
            g.typedLike(aQ, a, TensorProto.DataType.UINT8_VALUE);
            g.typedLike(aDq[0], a);
            nodes.add(node(g.unique(a + "_QuantizeLinear"), "QuantizeLinear", List.of(a, scale, zp), aQ));
            nodes.add(node(g.unique(a + "_DequantizeLinear"), "DequantizeLinear", List.of(aQ, scale, zp), aDq[0]));
            g.memo.put(a, aDq);
        }
        // a transB Gemm keeps W [N, K], one scale per row; otherwise W is [K, N] (a tied head's E transposed)
        boolean rows = m.transposed() && m.kind().equals("Gemm");
        List<String> w = quantizedWeight(m, g, rows);
        String[] wDq = g.memo.get("weight " + w.get(0));
        if (wDq == null) {
            wDq = new String[] {g.unique(w.get(0).replaceFirst("_quantized$", "") + "_DequantizeLinear_Output")};
            g.typed(wDq[0], y, TensorProto.DataType.FLOAT_VALUE, dims(m, rows));
            nodes.add(node(g.unique(w.get(0) + "_DequantizeLinear"), "DequantizeLinear", w, wDq[0]).toBuilder()
                    .addAttribute(Attributes.of("axis", rows ? 0L : 1L)).build());
            g.memo.put("weight " + w.get(0), wDq);
        }
        // the node itself on the dequantized inputs; a Gemm's bias is the Add WeightRewriter puts after it
        nodes.add(node.toBuilder().clearInput().addInput(aDq[0]).addInput(wDq[0]).clearOutput().addOutput(product)
                .build());
        return nodes;
    }

    @Override
    List<NodeProto> rewriteGather(NodeProto node, Match m, Graph g) {
        throw new IllegalStateException("int8-static leaves embedding Gathers in float");
    }

    /** The shape of the quantized weight: [N, K] for a transB Gemm, else [K, N]. */
    private static long[] dims(Match m, boolean rows) {
        TensorProto w = m.tensor();
        return m.transposed() && !rows ? new long[] {w.getDims(1), w.getDims(0)} : new long[] {w.getDims(0), w.getDims(1)};
    }

    /** W_quantized, W_scale, W_zero_point: quantized and stored once per folder, held once per graph. */
    private List<String> quantizedWeight(Match m, Graph g, boolean rows) {
        TensorProto w = m.tensor();
        String stem = w.getName() + (m.kind().equals("MatMul(Transpose)") ? "_T" : "");
        return quantized(m, g, stem, "qdq int8" + (rows ? " rows" : m.transposed() ? " T" : ""),
                b -> stored(quantizer.quantize(stem + "_quantized", b, w.getDims(0), w.getDims(1),
                        m.transposed() && !rows, m.transposed(), weights.file()), weights.file()),
                t -> List.of(named(t[0], stem + "_quantized"), named(t[1], stem + "_scale"),
                        named(t[2], stem + "_zero_point")));
    }

    /** The int8 weight and its [N] float scales and [N] int8 zeros, the last two written into the weights file. */
    private static TensorProto[] stored(WeightQuantizer.Quantized q, SharedExternalData file) {
        int n = q.scales().length;
        String name = q.weight().getName();
        ByteBuffer s = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : q.scales()) {
            s.putFloat(v);
        }
        s.flip();
        TensorProto scale = file.storeNew(TensorProto.newBuilder().setName(name + "_scale")
                .setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(n).build(), 4L * n,
                start -> file.writeAt(s, start, name + "_scale"));
        ByteBuffer z = ByteBuffer.allocate(n);
        TensorProto zero = file.storeNew(TensorProto.newBuilder().setName(name + "_zero_point")
                .setDataType(TensorProto.DataType.INT8_VALUE).addDims(n).build(), n,
                start -> file.writeAt(z, start, name + "_zero_point"));
        return new TensorProto[] {q.weight(), scale, zero};
    }

    /** A scalar initializer. */
    private static TensorProto raw(String name, int type, ByteBuffer bytes) {
        return TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(ByteString.copyFrom(bytes.duplicate().rewind())).build();
    }
}
