package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.models.BertCliTest.Outcome;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code stepwise unroll} on a seq2seq checkpoint: the folder and its manifest; decoder-only flags refused in one line. */
class UnrollSeq2SeqCliTest {
    @TempDir
    Path tmp;

    @Test
    void unrollsT5AndRefusesDecoderOnlyFlags() {
        String t5 = Fixtures.path("seq2seq/t5-tiny-random").toString();
        Path out = tmp.resolve("t5-steps");
        Outcome o = BertCliTest.cli("unroll", "--model", t5, "--output", out.toString(), "--batch-size", "2",
                "--sequence-length", "12", "--max-new-tokens", "4");
        assertEquals(0, o.status(), o.stderr());
        assertTrue(o.stderr().contains("encoder_model-opt.onnx"), o.stderr());
        assertTrue(o.stderr().contains("checked gen step 3"), o.stderr());
        JsonObject manifest = ModelConfig.readJson(out.resolve("unroll.json"));
        assertEquals("seq2seq-gen-step-graphs", manifest.get("format").getAsString());
        assertEquals(12, manifest.get("encoder_sequence_length").getAsInt());
        assertEquals(4, manifest.getAsJsonArray("steps").size());
        for (int s = 0; s < 4; s++) {
            assertTrue(Files.isRegularFile(out.resolve("decoder_model-opt_gen_step=" + s + ".onnx")), "step " + s);
        }

        for (String[] flag : new String[][] {{"--last-token-logits"}, {"--quantize", "int8"}}) {
            Path refused = tmp.resolve("refused");
            String[] args = {"unroll", "--model", t5, "--output", refused.toString(), "--batch-size", "1",
                "--sequence-length", "4", "--max-new-tokens", "2", flag[0], flag.length > 1 ? flag[1] : "--no-validate"};
            Outcome r = BertCliTest.cli(args);
            assertEquals(1, r.status(), flag[0] + ": " + r.stderr());
            assertTrue(r.stderr().contains(flag[0] + " applies to decoder-only unrolls"), r.stderr());
            assertEquals(1, r.stderr().lines().filter(l -> !l.isBlank()).count(), "one line: " + r.stderr());
            assertFalse(Files.exists(refused), flag[0] + ": nothing written");
        }
    }
}
