package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.simplify.Simplifier;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code simplify} on the other foreign decoders in the fixtures: a plain {@code torch.onnx.export} GPT-2 full of
 * Shape/Gather/Concat arithmetic, onnxruntime's fused GPT-2 (Attention, EmbedLayerNormalization,
 * SkipLayerNormalization, FastGelu, int32 inputs, a stacked {@code past_i}), and inputs it must refuse.
 */
class SimplifyUpstreamGraphsTest {
    @TempDir
    Path tmp;

    @Test
    void torchExportedGpt2LosesItsShapeArithmetic() throws Exception {
        Path source = Fixtures.path("upstream-onnx/gpt2-torch-export/gpt2_megatron.onnx");
        Simplifier.Result r = Simplifier.run(source, tmp.resolve("megatron"), Simplifier.Options.of(2, 8, 4).withThreads(1));
        SimplifyAsserts.assertFolder(r, 4);
        Map<String, Integer> before = r.sourceOps();
        assertEquals(12, before.get("Shape"));
        assertEquals(14, before.get("Gather"));
        assertEquals(7, before.get("Concat"));
        assertEquals(29, before.get("Constant"));
        for (Simplifier.Step s : r.steps()) {
            SimplifyAsserts.assertStaticStep(r, s.step());
            Map<String, Integer> after = s.ops();
            assertEquals(2, after.get("Gather"), "only the two embedding lookups stay: " + after);
            assertTrue(after.getOrDefault("Concat", 0) <= 3, "only the KV-cache concats stay: " + after);
            assertTrue(s.maxAbsDiff().get("logits") <= 1e-4);
        }
        // prefill needs no past: the zero-length concat is gone and so is the input
        ModelProto step0 = SimplifyAsserts.assertStaticStep(r, 0);
        assertNull(SimplifyAsserts.input(step0, "past_0"));
        ModelProto step3 = SimplifyAsserts.assertStaticStep(r, 3);
        assertArrayEquals(new long[] {2, 2, 2, 10, 4}, SimplifyAsserts.input(step3, "past_0").dims());
        assertArrayEquals(new long[] {2, 2, 2, 11, 4}, SimplifyAsserts.output(step3, "present_0").dims());
    }

    @Test
    void onnxruntimeFusedGpt2KeepsItsContribOps() throws Exception {
        Path source = Fixtures.path("upstream-onnx/gpt2-tiny-random-fused/past.onnx");
        Simplifier.Result r = Simplifier.run(source, tmp.resolve("fused"), Simplifier.Options.of(1, 5, 3).withThreads(1));
        SimplifyAsserts.assertFolder(r, 3);
        for (Simplifier.Step s : r.steps()) {
            ModelProto m = SimplifyAsserts.assertStaticStep(r, s.step());
            assertEquals(5, s.ops().get("com.microsoft.Attention"));
            assertEquals(1, s.ops().get("com.microsoft.EmbedLayerNormalization"));
            long past = s.step() == 0 ? 0 : 5 + s.step() - 1;
            assertArrayEquals(new long[] {2, 1, 4, past, 8}, SimplifyAsserts.input(m, "past_3").dims());
            assertTrue(s.maxAbsDiff().get("logits") <= 1e-4);
        }
        assertTrue(r.weightsBytes() > 500_000 && r.weightsBytes() < 600_000, "weights once: " + r.weightsBytes());
    }

    @Test
    void refusesWhatIsNotADecoderWithACache() throws Exception {
        Path notOnnx = Files.writeString(tmp.resolve("notes.onnx"), "this is not a model");
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> Simplifier.run(notOnnx, tmp.resolve("out"), Simplifier.Options.of(1, 4, 2)));
        assertTrue(e.getMessage().contains("notes.onnx") && e.getMessage().contains("not"), e.getMessage());

        Path missing = tmp.resolve("missing.onnx");
        e = assertThrows(StepwiseException.class,
                () -> Simplifier.run(missing, tmp.resolve("out"), Simplifier.Options.of(1, 4, 2)));
        assertTrue(e.getMessage().contains("missing.onnx"), e.getMessage());

        Path noPast = Fixtures.path("upstream-onnx/gpt2-generation-ops/tiny_gpt2_greedysearch_with_init_decoder.onnx");
        e = assertThrows(StepwiseException.class,
                () -> Simplifier.run(noPast, tmp.resolve("out"), Simplifier.Options.of(1, 4, 2)));
        assertTrue(e.getMessage().contains("'max_length'"), e.getMessage());

        Path fixedIds = Fixtures.path("upstream-onnx/gpt2-torch-export/gpt2_past.onnx");
        e = assertThrows(StepwiseException.class,
                () -> Simplifier.run(fixedIds, tmp.resolve("out"), Simplifier.Options.of(1, 4, 2)));
        assertTrue(e.getMessage().contains("cannot be made static"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void failedVerificationExitsNonZeroAndLeavesNoFolder() {
        Path source = Fixtures.path("upstream-onnx/gpt2-torch-export/gpt2_megatron.onnx");
        Path out = tmp.resolve("strict");
        PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        int status;
        try {
            status = Main.run("simplify", "--model", source.toString(), "--output", out.toString(), "--batch-size", "1",
                    "--sequence-length", "4", "--max-new-tokens", "2", "--rtol", "0", "--atol", "0", "--threads", "1");
        } finally {
            System.setErr(savedErr);
        }
        assertEquals(1, status);
        String message = err.toString().trim();
        assertTrue(message.startsWith("error: step 0") && message.contains("'logits'") && message.contains("differs"),
                message);
        assertEquals(1, message.lines().count(), message);
        assertFalse(Files.exists(out));
    }
}
