package dev.stepwise.runtime.quantize;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.Attributes;
import dev.stepwise.runtime.onnx.GraphBuilder;
import dev.stepwise.runtime.onnx.OnnxModelWriter;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A one-node {@code com.microsoft.MatMulNBits} model {@code Y = X · W} over Java-quantized weights, for tests. */
final class MatMulNBitsModel {
    static final String INPUT = "X";
    static final String OUTPUT = "Y";

    private MatMulNBitsModel() {
    }

    /** Writes {@code dir/model.onnx} for X {@code [m, K]} and returns it. */
    static Path write(Int4Weights q, int m, Path dir) {
        GraphBuilder g = new GraphBuilder("matmul_nbits", 17);
        g.importOpset("com.microsoft", 1);
        g.addInput(GraphBuilder.tensorInfo(INPUT, TensorProto.DataType.FLOAT_VALUE, new long[] {m, q.k()}));
        List<String> inputs = new ArrayList<>(List.of(INPUT, "W_Q4", "W_scales"));
        g.addInitializer(tensor("W_Q4", TensorProto.DataType.UINT8_VALUE, q.bDims(), q.b()));
        g.addInitializer(tensor("W_scales", TensorProto.DataType.FLOAT_VALUE, q.scalesDims(), littleEndian(q.scales())));
        if (!q.symmetric()) {
            g.addInitializer(tensor("W_zero_points", TensorProto.DataType.UINT8_VALUE, q.zeroPointsDims(),
                    q.zeroPoints()));
            inputs.add("W_zero_points");
        }
        String y = g.addNode("com.microsoft", "MatMulNBits", inputs, 1,
                Attributes.of("K", q.k()), Attributes.of("N", q.n()), Attributes.of("bits", 4L),
                Attributes.of("block_size", q.blockSize()), Attributes.of("accuracy_level", 4L)).get(0);
        g.renameNodeOutput(y, OUTPUT);
        g.addOutput(GraphBuilder.tensorInfo(OUTPUT, TensorProto.DataType.FLOAT_VALUE, new long[] {m, q.n()}));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return OnnxModelWriter.write(g.build(false), dir, "model.onnx", "model.onnx.data", false);
    }

    private static TensorProto tensor(String name, int type, long[] dims, byte[] raw) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type).setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static byte[] littleEndian(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b.array();
    }
}
