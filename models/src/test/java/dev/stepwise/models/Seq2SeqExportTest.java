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
import dev.stepwise.runtime.onnx.proto.Onnx.AttributeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code stepwise export} of a BART or T5 checkpoint writes optimum's seq2seq set: encoder, decoder, decoder with past
 * and the merged decoder with optimum's input and output names, every initializer in one shared {@code model.onnx_data} that holds each weight once, each graph
 * validated against the PyTorch engine, and {@code stepwise.json} naming the files.
 */
class Seq2SeqExportTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"bart-tiny-random", "bart-reverse-trained", "t5-tiny-random", "t5-reverse-trained"})
    void writesOptimumsFilesOverOneWeightsFile(String name) throws IOException {
        Path checkpoint = Fixtures.path("seq2seq/" + name);
        ExportResult r = Stepwise.export(checkpoint, tmp.resolve(name), ExportOptions.defaults());
        Path out = r.outputDir();
        for (ValidationCase c : r.validation()) {
            System.out.println(name + " " + c.name() + ": " + c.maxAbsDiff());
        }
        assertEquals(7, r.validation().size(),
                "three files, the single decoder at its first and a later step, the merged decoder in both branches");
        assertTrue(r.validation().stream().anyMatch(c -> c.name().startsWith(
                "decoder_model_merged.onnx use_cache_branch=false")), "merged decoder without past validated");
        assertTrue(r.validation().stream().anyMatch(c -> c.name().startsWith(
                "decoder_model_merged.onnx use_cache_branch=true")), "merged decoder with past validated");
        assertTrue(r.validation().stream().allMatch(ValidationCase::passed));

        JsonObject manifest = ModelConfig.readJson(out.resolve("stepwise.json"));
        assertEquals("seq2seq", manifest.get("format").getAsString());
        assertEquals("text2text-generation", manifest.get("task").getAsString());
        assertEquals("[\"encoder_model.onnx\",\"decoder_model.onnx\",\"decoder_with_past_model.onnx\","
                + "\"decoder_single_model.onnx\",\"decoder_model_merged.onnx\",\"model.onnx_data\"]",
                manifest.get("files").toString());
        assertEquals("decoder_model_merged.onnx", manifest.get("decoder_merged").getAsString());
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

        ModelProto merged = OnnxModelReader.load(out.resolve("decoder_model_merged.onnx")).model();
        checkMerged(merged, decoder, withPast);

        // one weights file: every initializer of the graphs points into it, and it holds each weight once
        Map<String, long[]> unmergedExtents = new HashMap<>();
        for (ModelProto m : List.of(encoder, decoder, withPast, single)) {
            unmergedExtents.putAll(extents(m.getGraph()));
        }
        long end = unmergedExtents.values().stream().mapToLong(e -> e[0] + e[1]).max().orElse(0);
        long stored = Files.size(out.resolve("model.onnx_data"));
        assertEquals(end, stored, "model.onnx_data holds exactly what the unmerged graphs read");
        for (Map.Entry<String, long[]> e : extents(merged.getGraph()).entrySet()) {
            assertTrue(unmergedExtents.containsKey(e.getKey())
                    && Arrays.equals(unmergedExtents.get(e.getKey()), e.getValue()),
                    "the merged decoder's " + e.getKey() + " is not the bytes the decoder pair reads");
        }
        long checkpointBytes = Files.size(checkpoint.resolve("model.safetensors"));
        System.out.printf("%s: model.onnx_data %d B for a %d B checkpoint%n", name, stored, checkpointBytes);
        assertTrue(stored < checkpointBytes * 1.05, "weights stored more than once: " + stored);
    }

    /**
     * optimum's merged decoder: one node, an If on the bool [1] use_cache_branch (then: with past, else: without), the
     * union of the two decoders' inputs, the decoder's outputs; the with-past branch gives the cross-attention presents
     * as empty constants; the weights are outer-graph initializers (each once), the branches hold none of them.
     */
    private static void checkMerged(ModelProto merged, ModelProto decoder, ModelProto withPast) {
        GraphProto g = merged.getGraph();
        assertEquals(1, g.getNodeCount(), "one node");
        NodeProto ifNode = g.getNode(0);
        assertEquals("If", ifNode.getOpType());
        assertEquals(List.of("use_cache_branch"), ifNode.getInputList());
        List<String> inputs = new ArrayList<>(names(decoder.getGraph().getInputList()));
        for (String n : names(withPast.getGraph().getInputList())) {
            if (!inputs.contains(n)) {
                inputs.add(n);
            }
        }
        inputs.add("use_cache_branch");
        assertEquals(inputs, names(g.getInputList()));
        ValueInfoProto flag = g.getInput(g.getInputCount() - 1);
        assertEquals(TensorProto.DataType.BOOL_VALUE, flag.getType().getTensorType().getElemType());
        assertEquals(1, flag.getType().getTensorType().getShape().getDim(0).getDimValue());
        assertEquals(names(decoder.getGraph().getOutputList()), names(g.getOutputList()));
        assertEquals(names(decoder.getGraph().getOutputList()), ifNode.getOutputList());
        GraphProto then = null;
        GraphProto otherwise = null;
        for (AttributeProto a : ifNode.getAttributeList()) {
            if (a.getName().equals("then_branch")) {
                then = a.getG();
            } else if (a.getName().equals("else_branch")) {
                otherwise = a.getG();
            }
        }
        assertEquals(decoder.getGraph().getNodeCount(), otherwise.getNodeCount(), "else: the decoder without past");
        int crossPresents = decoder.getGraph().getOutputCount() - withPast.getGraph().getOutputCount();
        assertEquals(withPast.getGraph().getNodeCount() + crossPresents, then.getNodeCount(),
                "then: the decoder with past and an empty constant per cross present");
        for (NodeProto n : then.getNodeList()) {
            if (n.getOutputCount() == 1 && n.getOutput(0).contains(".encoder.")) {
                assertEquals("Constant", n.getOpType(), n.getOutput(0));
                assertEquals(0, n.getAttribute(0).getT().getDims(0), n.getOutput(0) + " is empty");
            }
        }
        for (GraphProto branch : List.of(then, otherwise)) {
            assertTrue(branch.getInitializerList().stream()
                            .noneMatch(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL),
                    branch.getName() + " holds no weight of its own");
            assertEquals(0, branch.getInputCount(), branch.getName() + " reads the outer graph's inputs");
        }
        Set<String> weights = new HashSet<>();
        for (TensorProto t : g.getInitializerList()) {
            assertEquals(TensorProto.DataLocation.EXTERNAL, t.getDataLocation(), t.getName());
            assertTrue(weights.add(t.getName()), t.getName() + " twice");
        }
        Set<String> pairWeights = new HashSet<>(extents(decoder.getGraph()).keySet());
        pairWeights.addAll(extents(withPast.getGraph()).keySet());
        assertEquals(pairWeights, weights, "the merged decoder reads the weights the pair reads");
    }

    /** External initializers of a graph: name → {offset, length} in model.onnx_data. */
    private static Map<String, long[]> extents(GraphProto g) {
        Map<String, long[]> out = new HashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
                continue;
            }
            long offset = 0;
            long length = -1;
            for (StringStringEntryProto e : t.getExternalDataList()) {
                switch (e.getKey()) {
                    case "location" -> assertEquals("model.onnx_data", e.getValue(), t.getName());
                    case "offset" -> offset = Long.parseLong(e.getValue());
                    case "length" -> length = Long.parseLong(e.getValue());
                    default -> { }
                }
            }
            out.put(t.getName(), new long[] {offset, length});
        }
        return out;
    }

    private static List<String> names(List<ValueInfoProto> values) {
        return values.stream().map(ValueInfoProto::getName).toList();
    }
}
