package dev.stepwise.runtime.fuzz;

import static dev.stepwise.runtime.checkpoint.torchbin.TorchSave.shape;

import com.google.protobuf.ByteString;
import dev.stepwise.runtime.checkpoint.torchbin.TorchSave;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.OperatorSetIdProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TypeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes the seed corpus of the fuzz targets (small valid inputs of each kind) into
 * {@code runtime/src/test/resources/dev/stepwise/runtime/fuzz/<Target>Inputs/<method>/}, where Jazzer's JUnit
 * integration finds them. Run once from the worktree root:
 * {@code java -cp <test classpath> dev.stepwise.runtime.fuzz.FuzzCorpus runtime/src/test/resources dev/stepwise/...}.
 * Crashes found while fuzzing are written beside the seeds by Jazzer and stay there as regression inputs.
 */
public final class FuzzCorpus {
    private FuzzCorpus() {
    }

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : "runtime/src/test/resources").resolve("dev/stepwise/runtime/fuzz");
        Path fixtures = Path.of(args.length > 1 ? args[1] : "../shared/fixtures");

        Path st = Files.createDirectories(root.resolve("CheckpointFuzzTestInputs/safetensorsFile"));
        Files.write(st.resolve("f32_f16_metadata"), safetensors("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]}}", 30));
        Files.write(st.resolve("bf16_i64_scalar_empty"), safetensors("{"
                + "\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[4,20]},"
                + "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[20,24]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[24,24]}}", 24));
        Files.write(st.resolve("padded_header"), safetensors("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}    ", 4));

        Path tb = Files.createDirectories(root.resolve("CheckpointFuzzTestInputs/pytorchModelBin"));
        new TorchSave().metadataModule("h").f32("h.w", shape(2, 3), 1, 2, 3, 4, 5, 6).f16("h.b", shape(3), 1, 2, 3)
                .bf16("x", shape(1), 7).i64("ids", shape(2), 1, 2).view("tied", "0", 1, shape(5), shape(1))
                .write(tb.resolve("state_dict_views"));
        new TorchSave().plainDict().f32("w", shape(2), 1, 2).write(tb.resolve("plain_dict"));
        new TorchSave().asParameters().legacyRebuild().f32("p", shape(1, 2), 3, 4).write(tb.resolve("parameters"));

        Path cfg = Files.createDirectories(root.resolve("ConfigJsonFuzzTestInputs/configJson"));
        Files.copy(fixtures.resolve("gpt2-tiny-random/config.json"), cfg.resolve("gpt2"), REPLACE);
        Files.copy(fixtures.resolve("llama-tiny-random-fp16/config.json"), cfg.resolve("llama"), REPLACE);
        Files.writeString(cfg.resolve("gpt2_list_eos"), "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":4,\"n_embd\":16,"
                + "\"vocab_size\":50,\"n_positions\":64,\"eos_token_id\":[1,2],\"pad_token_id\":null}");

        Path gen = Files.createDirectories(root.resolve("GenerationConfigFuzzTestInputs/generationConfigJson"));
        Files.writeString(gen.resolve("sampling"), "{\"do_sample\":true,\"temperature\":0.7,\"top_k\":40,\"top_p\":0.9,"
                + "\"max_new_tokens\":16,\"repetition_penalty\":1.1,\"eos_token_id\":50256,\"pad_token_id\":50256}");
        Files.writeString(gen.resolve("beam"), "{\"num_beams\":4,\"num_return_sequences\":2,\"early_stopping\":\"never\","
                + "\"length_penalty\":0.8,\"no_repeat_ngram_size\":3,\"max_length\":30,\"min_length\":10,\"eos_token_id\":[2,3]}");
        Files.writeString(gen.resolve("transformers_defaults"), "{\"_from_model_config\":true,\"bos_token_id\":1,"
                + "\"eos_token_id\":2,\"transformers_version\":\"4.44.0\"}");

        Path onnx = Files.createDirectories(root.resolve("OnnxModelFuzzTestInputs/modelFile"));
        Files.write(onnx.resolve("external_raw_typed"), model().toByteArray());
        Path ext = Files.createDirectories(root.resolve("OnnxModelFuzzTestInputs/externalData"));
        Random random = new Random(13);
        for (int i = 0; i < 3; i++) {
            byte[] b = new byte[32 + 32 * i];
            random.nextBytes(b);
            Files.write(ext.resolve("random_" + i), b);
        }
    }

    private static final java.nio.file.CopyOption REPLACE = java.nio.file.StandardCopyOption.REPLACE_EXISTING;

    private static byte[] safetensors(String header, int dataBytes) {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        for (int i = 0; b.hasRemaining(); i++) {
            b.put((byte) (i * 37));
        }
        return b.array();
    }

    /** y = MatMul(x, w) + b with w in weights.bin, b as raw_data, and a typed int64 shape for a Reshape. */
    private static ModelProto model() {
        TensorProto w = TensorProto.newBuilder().setName("w").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(2).addDims(3).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(kv("location", OnnxModelFuzzTest.WEIGHTS)).addExternalData(kv("offset", "64"))
                .addExternalData(kv("length", "24")).build();
        ByteBuffer bias = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2).putFloat(3);
        TensorProto b = TensorProto.newBuilder().setName("b").setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(3)
                .setRawData(ByteString.copyFrom(bias.array())).build();
        TensorProto s = TensorProto.newBuilder().setName("s").setDataType(TensorProto.DataType.INT64_VALUE).addDims(2)
                .addInt64Data(-1).addInt64Data(3).build();
        GraphProto g = GraphProto.newBuilder().setName("g").addInitializer(w).addInitializer(b).addInitializer(s)
                .addInput(value("x", 1, "batch", 2))
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("xw"))
                .addNode(NodeProto.newBuilder().setOpType("Add").addInput("xw").addInput("b").addOutput("y0"))
                .addNode(NodeProto.newBuilder().setOpType("Reshape").addInput("y0").addInput("s").addOutput("y"))
                .addOutput(value("y", 1, "batch", 3)).build();
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("stepwise-fuzz-corpus")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(14)).setGraph(g).build();
    }

    private static StringStringEntryProto kv(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    private static ValueInfoProto value(String name, int elemType, String dim0, long dim1) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(dim0))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim1))))).build();
    }
}
