package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.PlannedTensor;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.SafetensorsWriter;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bfloat16 checkpoint (the fp16 fixture's weights rewritten as BF16, {@code torch_dtype} bfloat16) exports to a
 * float32 graph that validates; the fp16 case is {@link LlamaFixtureTest}.
 */
class LlamaHalfPrecisionTest {
    @TempDir
    Path tmp;

    @Test
    void bfloat16CheckpointExportsFloat32GraphThatValidates() throws Exception {
        Path fixture = Fixtures.path("llama-tiny-random-fp16");
        Path bf16 = Files.createDirectories(tmp.resolve("llama-bf16"));
        JsonObject config = JsonParser.parseString(Files.readString(fixture.resolve("config.json"))).getAsJsonObject();
        config.addProperty("torch_dtype", "bfloat16");
        Files.writeString(bf16.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);
        try (Checkpoint source = Checkpoint.open(fixture)) {
            List<PlannedTensor> plan = new ArrayList<>();
            for (String name : source.names()) {
                plan.add(new PlannedTensor(name, SafetensorsDtype.BF16, source.shape(name)));
            }
            try (SafetensorsWriter writer = SafetensorsWriter.create(bf16.resolve("model.safetensors"), plan)) {
                for (String name : source.names()) {
                    FloatBuffer values = source.float32(name).duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                    writer.write(name, values);
                }
            }
        }
        try (Checkpoint written = Checkpoint.open(bf16)) {
            for (String name : written.names()) {
                assertEquals(SafetensorsDtype.BF16, written.dtype(name), name);
            }
        }

        ExportResult export = LlamaExporter.run(bf16, tmp.resolve("onnx"));
        for (ValidationCase c : export.validation()) {
            assertTrue(c.passed(), c.name() + ": " + c.maxAbsDiff());
        }
        OnnxModelReader model = OnnxModelReader.load(export.modelFile());
        for (ValueInfoProto v : model.outputs()) {
            assertEquals(TensorProto.DataType.FLOAT_VALUE, v.getType().getTensorType().getElemType(), v.getName());
        }
        for (TensorProto t : model.initializers()) {
            if (t.getName().startsWith("model.") || t.getName().startsWith("lm_head")) {
                assertEquals(TensorProto.DataType.FLOAT_VALUE, t.getDataType(), t.getName());
            }
        }
    }
}
