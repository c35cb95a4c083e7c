package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.ModelInspection;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Path;

/**
 * ONNX files: {@code OnnxModelReader.load} of arbitrary bytes, and the external-data resolver ({@code data()},
 * {@code byteLength()}, the location check) of initializers whose fields the fuzzer picks. A 256-byte
 * {@code weights.bin} lies beside the model, so in-range, past-the-end and outside-the-folder locations are all
 * reachable. Corpus: {@code OnnxModelFuzzTestInputs/}.
 */
class OnnxModelFuzzTest {
    private static final Path DIR = FuzzSupport.folder("onnx");
    static final String WEIGHTS = "weights.bin";

    static {
        FuzzSupport.write(DIR, WEIGHTS, new byte[256]);
    }

    /** Everything {@code inspect} and the readers do with a model, without ONNX Runtime. */
    private static void readAll(Path file) {
        OnnxModelReader r = OnnxModelReader.load(file);
        r.summary();
        r.opCounts();
        r.externalFiles();
        r.initializerBytes();
        for (TensorProto t : r.initializers()) {
            r.byteLength(t);
            r.data(t);
        }
        ModelInspection.of(file).format();
    }

    @FuzzTest(maxDuration = "30s")
    void modelFile(byte[] input) {
        Path file = FuzzSupport.write(DIR, "model.onnx", input);
        FuzzSupport.refusedCleanly(() -> readAll(file));
    }

    @FuzzTest(maxDuration = "30s")
    void externalData(FuzzedDataProvider data) {
        TensorProto.Builder t = TensorProto.newBuilder().setName("w").setDataType(data.consumeInt(0, 17));
        for (int i = data.consumeInt(0, 4); i > 0; i--) {
            t.addDims(data.consumeLong());
        }
        switch (data.consumeInt(0, 2)) {
            case 0 -> {
                t.setDataLocation(TensorProto.DataLocation.EXTERNAL);
                String[] keys = {"location", "offset", "length", "checksum"};
                for (int i = data.consumeInt(0, 4); i > 0; i--) {
                    String key = data.pickValue(keys);
                    String value = key.equals("location") && data.consumeBoolean() ? WEIGHTS : data.consumeString(24);
                    t.addExternalData(StringStringEntryProto.newBuilder().setKey(key).setValue(value));
                }
            }
            case 1 -> t.setRawData(ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 64))));
            default -> {
                for (int i = data.consumeInt(0, 16); i > 0; i--) {
                    switch (t.getDataType()) {
                        case TensorProto.DataType.FLOAT_VALUE -> t.addFloatData(data.consumeFloat());
                        case TensorProto.DataType.INT64_VALUE -> t.addInt64Data(data.consumeLong());
                        case TensorProto.DataType.DOUBLE_VALUE -> t.addDoubleData(data.consumeDouble());
                        case TensorProto.DataType.UINT32_VALUE, TensorProto.DataType.UINT64_VALUE ->
                                t.addUint64Data(data.consumeLong());
                        default -> t.addInt32Data(data.consumeInt());
                    }
                }
            }
        }
        ModelProto model = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(data.consumeInt(0, 30)))
                .setGraph(GraphProto.newBuilder().setName("g").addInitializer(t)).build();
        Path file = FuzzSupport.write(DIR, "external.onnx", model.toByteArray());
        FuzzSupport.refusedCleanly(() -> readAll(file));
    }
}
