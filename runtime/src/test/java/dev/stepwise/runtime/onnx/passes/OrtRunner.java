package dev.stepwise.runtime.onnx.passes;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs a model in ONNX Runtime on {@link ConstTensor} feeds and copies every output back as a ConstTensor. */
final class OrtRunner {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    private OrtRunner() {
    }

    static Map<String, ConstTensor> run(ModelProto model, Path dir, Map<String, ConstTensor> feeds) {
        Path file = dir.resolve("model-" + System.nanoTime() + ".onnx");
        try {
            Files.createDirectories(dir);
            Files.write(file, model.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return run(file, feeds);
    }

    static Map<String, ConstTensor> run(Path file, Map<String, ConstTensor> feeds) {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession session = ENV.createSession(file.toString(), options)) {
                Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
                List<OnnxTensor> created = new ArrayList<>();
                try {
                    for (var e : feeds.entrySet()) {
                        OnnxTensor t = tensor(e.getValue());
                        created.add(t);
                        inputs.put(e.getKey(), t);
                    }
                    Map<String, ConstTensor> out = new LinkedHashMap<>();
                    try (OrtSession.Result result = session.run(inputs)) {
                        for (Map.Entry<String, OnnxValue> e : result) {
                            out.put(e.getKey(), copy((OnnxTensor) e.getValue()));
                        }
                    }
                    return out;
                } finally {
                    created.forEach(OnnxTensor::close);
                }
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + file + ": " + e.getMessage(), e);
        }
    }

    static OnnxJavaType javaType(int elemType) {
        return switch (elemType) {
            case DataType.FLOAT_VALUE -> OnnxJavaType.FLOAT;
            case DataType.FLOAT16_VALUE -> OnnxJavaType.FLOAT16;
            case DataType.DOUBLE_VALUE -> OnnxJavaType.DOUBLE;
            case DataType.INT64_VALUE -> OnnxJavaType.INT64;
            case DataType.INT32_VALUE -> OnnxJavaType.INT32;
            case DataType.INT8_VALUE -> OnnxJavaType.INT8;
            case DataType.UINT8_VALUE -> OnnxJavaType.UINT8;
            case DataType.BOOL_VALUE -> OnnxJavaType.BOOL;
            default -> throw new IllegalArgumentException("type " + elemType);
        };
    }

    static int elemType(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> DataType.FLOAT_VALUE;
            case FLOAT16 -> DataType.FLOAT16_VALUE;
            case DOUBLE -> DataType.DOUBLE_VALUE;
            case INT64 -> DataType.INT64_VALUE;
            case INT32 -> DataType.INT32_VALUE;
            case INT8 -> DataType.INT8_VALUE;
            case UINT8 -> DataType.UINT8_VALUE;
            case BOOL -> DataType.BOOL_VALUE;
            default -> throw new IllegalArgumentException("type " + t);
        };
    }

    static OnnxTensor tensor(ConstTensor c) throws OrtException {
        ByteBuffer raw = c.toProto("x").getRawData().asReadOnlyByteBuffer();
        ByteBuffer direct = ByteBuffer.allocateDirect(raw.remaining()).order(ByteOrder.nativeOrder());
        direct.put(raw.order(ByteOrder.LITTLE_ENDIAN)).flip();
        return OnnxTensor.createTensor(ENV, direct, c.dims(), javaType(c.elemType()));
    }

    static ConstTensor copy(OnnxTensor t) throws OrtException {
        long[] shape = t.getInfo().getShape();
        int type = elemType(t.getInfo().type);
        ByteBuffer bytes = t.getByteBuffer();
        ByteBuffer le = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        bytes.order(ByteOrder.nativeOrder());
        le.put(bytes).flip();
        TensorProto.Builder p = TensorProto.newBuilder().setName("out").setDataType(type);
        for (long d : shape) {
            p.addDims(d);
        }
        return ConstTensor.fromProto(p.build(), le);
    }
}
