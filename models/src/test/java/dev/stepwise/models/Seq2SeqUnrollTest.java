package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.unroll.Seq2SeqStepGraphs;
import dev.stepwise.runtime.unroll.StepCheck;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code unroll} on the seq2seq fixtures: a static encoder (B = 2 rows of L = the longest golden input + 1 tokens, so
 * every row is right padded) and 8 static decoder step graphs, every one fully static and Shape-free, all pointing
 * into one weights file that holds each weight once; checked at unroll time against the dynamic set (atol 1e-4); and
 * greedy generation over the folder equal to the dynamic set's tokens and to transformers' {@code goldens.json}.
 */
class Seq2SeqUnrollTest {
    private static final int NEW_TOKENS = 8;

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny-random", "bart-tiny-random", "t5-reverse-trained", "bart-reverse-trained"})
    void staticGraphsShareOneWeightsFileAndGenerateTheDynamicSetsTokens(String name) throws IOException {
        Path checkpoint = Fixtures.path("seq2seq/" + name);
        JsonObject golden = ModelConfig.readJson(checkpoint.resolve("goldens.json"));
        List<long[]> rows = Seq2SeqGenerateTest.rows(golden.getAsJsonArray("rows"));
        int length = rows.stream().mapToInt(r -> r.length).max().orElseThrow() + 1;
        UnrollResult result = Unroller.unroll(checkpoint, tmp.resolve(name + "-steps"),
                UnrollOptions.of(rows.size(), length, NEW_TOKENS));
        Path dir = result.outputDir();
        assertEquals(NEW_TOKENS, result.steps().size());
        for (StepCheck c : result.report().checks()) {
            System.out.println(name + " " + c.describe());
            assertTrue(c.passed(), c.describe());
        }
        assertFalse(Double.isNaN(result.report().checks().get(0).encoderMaxAbsDiff()), "step 0 checks the encoder");

        List<String> files = new ArrayList<>(List.of("encoder_model-opt.onnx"));
        result.steps().forEach(s -> files.add(s.fileName()));
        assertEquals(files.size(), Files.list(dir).filter(f -> f.toString().endsWith(".onnx")).count(),
                "the encoder and one graph per step, nothing else");
        Map<Long, Long> extents = new TreeMap<>();
        Map<String, Long> offsetByName = new HashMap<>();
        for (int i = 0; i < files.size(); i++) {
            ModelProto model;
            try (InputStream in = Files.newInputStream(dir.resolve(files.get(i)))) {
                model = ModelProto.parseFrom(in);
            }
            UnrollTest.assertStatic(model, i - 1);
            for (TensorProto t : model.getGraph().getInitializerList()) {
                if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
                    continue;
                }
                Map<String, String> ext = new HashMap<>();
                for (StringStringEntryProto e : t.getExternalDataList()) {
                    ext.put(e.getKey(), e.getValue());
                }
                assertEquals(Unroller.WEIGHTS_FILE, ext.get("location"), files.get(i) + ": " + t.getName());
                long offset = Long.parseLong(ext.get("offset"));
                extents.merge(offset, Long.parseLong(ext.get("length")), Math::max);
                Long before = offsetByName.putIfAbsent(t.getName(), offset);
                assertTrue(before == null || before == offset, t.getName() + " is stored twice");
            }
        }
        // each weight once: the extents tile the file without overlap and no two hold the same bytes
        long weightsBytes = Files.size(dir.resolve(Unroller.WEIGHTS_FILE));
        long end = 0;
        List<ByteBuffer> contents = new ArrayList<>();
        try (FileChannel data = FileChannel.open(dir.resolve(Unroller.WEIGHTS_FILE))) {
            for (Map.Entry<Long, Long> e : extents.entrySet()) {
                assertTrue(e.getKey() >= end, "weights overlap at offset " + e.getKey());
                end = e.getKey() + e.getValue();
                ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(e.getValue()));
                data.read(b, e.getKey());
                contents.add(b.flip());
            }
        }
        assertTrue(end <= weightsBytes && weightsBytes - end < 64L * extents.size(), "the weights file holds only the"
                + " weights (alignment aside): " + end + " of " + weightsBytes + " bytes used");
        assertEquals(contents.size(), contents.stream().distinct().count(), "a weight is written twice");
        System.out.printf("%s unrolled: encoder %d MatMul (Shape %d), step 0 %d MatMul, step 7 %d MatMul, weights %d B,"
                        + " %.1f s%n", name, result.report().encoderOptimizedCount("MatMul"),
                result.report().encoderOptimizedCount("Shape"), result.report().optimizedCount(0, "MatMul"),
                result.report().optimizedCount(7, "MatMul"), weightsBytes, result.report().seconds());

        GenerationConfig greedy = new GenerationConfig.Builder().maxNewTokens(NEW_TOKENS).minNewTokens(NEW_TOKENS)
                .build(0);
        List<List<Long>> dynamic;
        Path exported = Stepwise.export(checkpoint, tmp.resolve(name + "-dynamic"),
                ExportOptions.defaults().withValidate(false)).outputDir();
        try (Seq2SeqModel model = Seq2SeqModel.open(exported)) {
            dynamic = Seq2SeqGenerateTest.first(model.generate(rows, greedy));
        }
        try (Seq2SeqModel model = Seq2SeqStepGraphs.open(dir, 0)) {
            List<List<Long>> unrolled = Seq2SeqGenerateTest.first(model.generate(rows, greedy));
            System.out.println(name + " unrolled greedy " + unrolled);
            assertEquals(dynamic, unrolled, "greedy tokens, unrolled folder vs dynamic set");
            assertEquals(Seq2SeqGenerateTest.expected(golden.getAsJsonArray("greedy")), unrolled, "greedy tokens vs goldens.json");
            UnsupportedOptionException tooMany = assertThrows(UnsupportedOptionException.class, () -> model.generate(
                    rows, new GenerationConfig.Builder().maxNewTokens(NEW_TOKENS + 1).build(0)));
            assertTrue(tooMany.getMessage().contains("max_new_tokens 9"), tooMany.getMessage());
            UnsupportedOptionException beams = assertThrows(UnsupportedOptionException.class, () -> model.generate(
                    rows, new GenerationConfig.Builder().maxNewTokens(2).numBeams(3).build(0)));
            assertTrue(beams.getMessage().contains("num_beams 3"), beams.getMessage());
        }
    }

    /** Beam search fills the batch: 2 inputs × 3 beams unrolled as B = 6 give transformers' 3-beam tokens. */
    @Test
    void threeBeamsOverABatchOfSixEqualTransformers() {
        Path checkpoint = Fixtures.path("seq2seq/t5-reverse-trained");
        JsonObject golden = ModelConfig.readJson(checkpoint.resolve("goldens.json"));
        List<long[]> rows = Seq2SeqGenerateTest.rows(golden.getAsJsonArray("rows"));
        Path dir = Unroller.unroll(checkpoint, tmp.resolve("beams"), UnrollOptions.of(6, 7, NEW_TOKENS)
                .withValidate(false)).outputDir();
        GenerationConfig beams = new GenerationConfig.Builder().maxNewTokens(NEW_TOKENS).minNewTokens(NEW_TOKENS)
                .numBeams(3).lengthPenalty(1.0).earlyStopping(BeamOptions.EarlyStopping.FALSE).build(0);
        try (Seq2SeqModel model = Seq2SeqStepGraphs.open(dir, 0)) {
            assertEquals(Seq2SeqGenerateTest.expected(golden.getAsJsonArray("beam3")),
                    Seq2SeqGenerateTest.first(model.generate(rows, beams)), "3 beams");
        }
    }

    @Test
    void decoderOnlyOptionsAndFoldersAreRefusedInOneLine() {
        Path checkpoint = Fixtures.path("seq2seq/bart-tiny-random");
        StepwiseException last = assertThrows(StepwiseException.class, () -> Unroller.unroll(checkpoint,
                tmp.resolve("refused"), UnrollOptions.of(1, 4, 2).withLastTokenLogits(true)));
        assertTrue(last.getMessage().startsWith("--last-token-logits applies to decoder-only unrolls"),
                last.getMessage());
        assertFalse(last.getMessage().contains("\n"));
        assertFalse(Files.exists(tmp.resolve("refused")), "nothing written");

        Path dir = Unroller.unroll(checkpoint, tmp.resolve("small"), UnrollOptions.of(1, 4, 2)).outputDir();
        StepwiseException decoderOnly = assertThrows(StepwiseException.class, () -> StepGraphs.open(dir, 0));
        assertTrue(decoderOnly.getMessage().contains("a seq2seq unroll"), decoderOnly.getMessage());
        StepwiseException exported = assertThrows(StepwiseException.class, () -> Seq2SeqModel.open(dir));
        assertTrue(exported.getMessage().contains("Seq2SeqStepGraphs.open"), exported.getMessage());
    }

    /** The chained check bites: t5-reverse-trained's steps differ by ~1e-6, so atol 1e-9 fails and writes nothing. */
    @Test
    void aStepBeyondTheToleranceFailsTheUnroll() {
        Path checkpoint = Fixtures.path("seq2seq/t5-reverse-trained");
        Path out = tmp.resolve("too-strict");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Unroller.unroll(checkpoint, out,
                UnrollOptions.of(2, 7, 2).withAtol(1e-9)));
        assertTrue(e.getMessage().startsWith("unroll validation failed: gen step 0: encoder last_hidden_state max abs"
                + " diff"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written");
    }
}
