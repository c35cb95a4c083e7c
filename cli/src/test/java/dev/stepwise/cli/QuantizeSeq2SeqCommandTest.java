package dev.stepwise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.quantize.QuantizeSeq2SeqTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code stepwise quantize} on a seq2seq folder: one command; a broken decoder exits 1 and writes nothing. */
class QuantizeSeq2SeqCommandTest {
    @TempDir
    Path tmp;

    @Test
    void oneCommandQuantizesTheSetAndABrokenDecoderExitsOne() throws IOException {
        Path set = QuantizeSeq2SeqTest.write(tmp);
        String eval = tmp.resolve("eval.txt").toString();
        Path good = tmp.resolve("int8");
        assertEquals(0, Main.run("quantize", "--model", set.toString(), "--output", good.toString(), "--asymmetric",
                "--eval", eval));
        assertTrue(Files.isRegularFile(good.resolve("decoder_model.onnx")));
        assertTrue(Files.isRegularFile(good.resolve("encoder_model.onnx")));
        Path broken = tmp.resolve("per-tensor");
        assertEquals(1, Main.run("quantize", "--model", set.toString(), "--output", broken.toString(), "--per-tensor",
                "--asymmetric", "--eval", eval));
        assertFalse(Files.exists(broken));
    }
}
