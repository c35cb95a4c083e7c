package dev.stepwise.runtime.export;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code config.pbtxt} of one model for Triton's ONNX Runtime backend, in protobuf text format, with every input
 * and output read from the graph's own declarations: its name, its element type as Triton's {@code TYPE_*} name, and
 * its dims ({@code -1} for a symbolic or unknown dim, a rank-0 tensor as {@code dims: [ 1 ]} reshaped to {@code [ ]},
 * since Triton refuses an empty shape).
 *
 * <p>{@code max_batch_size} is 0: Triton may batch only along a first dim that every input and output share and whose
 * other dims agree between requests. The KV-cache decoder's past and attention mask grow per request, and the
 * generation graphs take scalars (max_new_tokens, do_sample, ...), so neither may be stacked by Triton's batcher; the
 * graphs carry their own batch axis, which a request fills. No {@code instance_group} is written: Triton's default
 * (one instance per GPU, or one on the CPU) is what these graphs need.
 */
public final class TritonModelConfig {
    /** Triton's platform name for an ONNX Runtime model. */
    public static final String PLATFORM = "onnxruntime_onnx";
    /** The backend that serves that platform. */
    public static final String BACKEND = "onnxruntime";

    private TritonModelConfig() {
    }

    /**
     * The configuration of the model {@code name} whose graph declares {@code inputs} and {@code outputs};
     * {@code source} (the export file it came from) is named in a comment and in errors.
     */
    public static String render(String name, String source, List<ValueInfoProto> inputs, List<ValueInfoProto> outputs) {
        StringBuilder out = new StringBuilder();
        out.append("# ").append(name).append(": ").append(source)
                .append(" for Triton's ONNX Runtime backend; inputs and outputs as the graph declares them.\n");
        out.append("name: ").append(quote(name)).append('\n');
        out.append("platform: ").append(quote(PLATFORM)).append('\n');
        out.append("backend: ").append(quote(BACKEND)).append('\n');
        out.append("# 0: Triton does not batch requests together; dims are the graph's full shapes\n");
        out.append("max_batch_size: 0\n");
        tensors(out, "input", source, inputs);
        tensors(out, "output", source, outputs);
        return out.toString();
    }

    private static void tensors(StringBuilder out, String kind, String source, List<ValueInfoProto> tensors) {
        out.append(kind).append(" [\n");
        for (int i = 0; i < tensors.size(); i++) {
            ValueInfoProto v = tensors.get(i);
            String where = source + ": " + kind + " '" + v.getName() + "'";
            if (!v.getType().hasTensorType()) {
                throw new StepwiseException(where + " is not a tensor (Triton's ONNX Runtime backend serves tensors only)");
            }
            TypeProto.Tensor t = v.getType().getTensorType();
            if (!t.hasShape()) {
                throw new StepwiseException(where + " declares no shape; Triton needs at least its rank");
            }
            List<String> symbols = new ArrayList<>();
            List<Long> dims = new ArrayList<>();
            for (TensorShapeProto.Dimension d : t.getShape().getDimList()) {
                if (d.hasDimValue()) {
                    dims.add(d.getDimValue());
                } else {
                    dims.add(-1L);
                    symbols.add(d.hasDimParam() && !d.getDimParam().isEmpty() ? d.getDimParam() : "?");
                }
            }
            out.append("  {\n");
            out.append("    name: ").append(quote(v.getName())).append('\n');
            out.append("    data_type: ").append(dataType(t.getElemType(), where)).append('\n');
            if (dims.isEmpty()) {
                out.append("    # a scalar in the graph\n");
                out.append("    dims: [ 1 ]\n");
                out.append("    reshape: { shape: [ ] }\n");
            } else {
                if (!symbols.isEmpty()) {
                    out.append("    # -1: ").append(String.join(", ", symbols)).append('\n');
                }
                out.append("    dims: [ ");
                for (int d = 0; d < dims.size(); d++) {
                    out.append(d == 0 ? "" : ", ").append(dims.get(d));
                }
                out.append(" ]\n");
            }
            out.append(i + 1 < tensors.size() ? "  },\n" : "  }\n");
        }
        out.append("]\n");
    }

    /** Triton's {@code DataType} name for an ONNX element type. */
    public static String dataType(int elemType, String where) {
        return switch (elemType) {
            case TensorProto.DataType.BOOL_VALUE -> "TYPE_BOOL";
            case TensorProto.DataType.UINT8_VALUE -> "TYPE_UINT8";
            case TensorProto.DataType.UINT16_VALUE -> "TYPE_UINT16";
            case TensorProto.DataType.UINT32_VALUE -> "TYPE_UINT32";
            case TensorProto.DataType.UINT64_VALUE -> "TYPE_UINT64";
            case TensorProto.DataType.INT8_VALUE -> "TYPE_INT8";
            case TensorProto.DataType.INT16_VALUE -> "TYPE_INT16";
            case TensorProto.DataType.INT32_VALUE -> "TYPE_INT32";
            case TensorProto.DataType.INT64_VALUE -> "TYPE_INT64";
            case TensorProto.DataType.FLOAT16_VALUE -> "TYPE_FP16";
            case TensorProto.DataType.FLOAT_VALUE -> "TYPE_FP32";
            case TensorProto.DataType.DOUBLE_VALUE -> "TYPE_FP64";
            case TensorProto.DataType.STRING_VALUE -> "TYPE_STRING";
            case TensorProto.DataType.BFLOAT16_VALUE -> "TYPE_BF16";
            default -> throw new StepwiseException(where + " has ONNX element type " + elemType
                    + ", which Triton's model configuration has no data type for");
        };
    }

    private static String quote(String s) {
        return "\"" + TextFormat.escapeBytes(ByteString.copyFromUtf8(s)) + "\"";
    }
}
