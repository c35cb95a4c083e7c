package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code stepwise export} of a BART or T5 checkpoint writes optimum's seq2seq set: three graphs with optimum's input and
 * output names, every initializer in one shared {@code model.onnx_data} that holds each weight once, each graph
 * validated against the PyTorch engine, and {@code stepwise.json} naming the files.
 */
class Seq2SeqExportTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"bart-tiny-random", "bart-reverse-trained", "t5-tiny-random", "t5-reverse-trained"})
    void writesOptimumsThreeFilesOverOneWeightsFile(String name) throws IOException {
        Path checkpoint = Fixtures.path("seq2seq/" + name);
        ExportResult r = Stepwise.export(checkpoint, tmp.resolve(name), ExportOptions.defaults());
        Path out = r.outputDir();
        for (ValidationCase c : r.validation()) {
            System.out.println(name + " " + c.name() + ": " + c.maxAbsDiff());
        }
        assertEquals(5, r.validation().size(), "three files, the single decoder at its first and a later step");
        assertTrue(r.validation().stream().allMatch(ValidationCase::passed));

        JsonObject manifest = ModelConfig.readJson(out.resolve("stepwise.json"));
        assertEquals("seq2seq", manifest.get("format").getAsString());
        assertEquals("text2text-generation", manifest.get("task").getAsString());
        assertEquals("[\"encoder_model.onnx\",\"decoder_model.onnx\",\"decoder_with_past_model.onnx\","
                + "\"decoder_single_model.onnx\",\"model.onnx_data\"]", manifest.get("files").toString());
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
        assertTrue(Files.isRegularFile(out.resolve("generation_config.json")));
        // the decoder-only entry points refuse the set with one line that says what it is and what opens it
        StepwiseException refused = assertThrows(StepwiseException.class, () -> Stepwise.open(out));
        assertTrue(refused.getMessage().contains("a seq2seq export") && refused.getMessage().contains("Seq2SeqModel"),
                refused.getMessage());

        ModelProto encoder = OnnxModelReader.load(out.resolve("encoder_model.onnx")).model();
        ModelProto decoder = OnnxModelReader.load(out.resolve("decoder_model.onnx")).model();
        ModelProto withPast = OnnxModelReader.load(out.resolve("decoder_with_past_model.onnx")).model();
        ModelProto single = OnnxModelReader.load(out.resolve("decoder_single_model.onnx")).model();
        assertEquals(0, single.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("If")).count());
        assertEquals(List.of("input_ids", "attention_mask"), names(encoder.getGraph().getInputList()));
        assertEquals(List.of("last_hidden_state"), names(encoder.getGraph().getOutputList()));
        assertEquals(List.of("input_ids", "encoder_attention_mask", "encoder_hidden_states"),
                names(decoder.getGraph().getInputList()));
        List<String> decoderOutputs = new ArrayList<>(List.of("logits"));
        List<String> pastInputs = new ArrayList<>(List.of("input_ids", "encoder_attention_mask"));
        List<String> pastOutputs = new ArrayList<>(List.of("logits"));
        for (int i = 0; i < 2; i++) {
            for (String side : List.of("decoder", "encoder")) {
                for (String kind : List.of("key", "value")) {
                    pastInputs.add("past_key_values." + i + "." + side + "." + kind);
                }
            }
            decoderOutputs.addAll(List.of("present." + i + ".decoder.key", "present." + i + ".decoder.value",
                    "present." + i + ".encoder.key", "present." + i + ".encoder.value"));
            pastOutputs.addAll(List.of("present." + i + ".decoder.key", "present." + i + ".decoder.value"));
        }
        assertEquals(decoderOutputs, names(decoder.getGraph().getOutputList()));
        assertEquals(pastInputs.stream().sorted().toList(),
                names(withPast.getGraph().getInputList()).stream().sorted().toList());
        assertEquals(pastOutputs, names(withPast.getGraph().getOutputList()));

        // one weights file: every initializer of the three graphs points into it, and it holds each weight once
        long stored = 0;
        for (ModelProto m : List.of(encoder, decoder, withPast, single)) {
            for (TensorProto t : m.getGraph().getInitializerList()) {
                if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                    assertEquals("model.onnx_data", t.getExternalData(0).getValue(), t.getName());
                }
            }
        }
        long checkpointBytes = Files.size(checkpoint.resolve("model.safetensors"));
        stored = Files.size(out.resolve("model.onnx_data"));
        System.out.printf("%s: model.onnx_data %d B for a %d B checkpoint%n", name, stored, checkpointBytes);
        assertTrue(stored < checkpointBytes * 1.05, "weights stored more than once: " + stored);
    }

    private static List<String> names(List<ValueInfoProto> values) {
        return values.stream().map(ValueInfoProto::getName).toList();
    }
}
