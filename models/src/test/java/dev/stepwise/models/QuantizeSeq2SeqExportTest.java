package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The trained seq2seq fixtures, exported by Stepwise, through {@code quantize} in one call: the gate feeds each
 * decoder the float pipeline's own greedy path with its own encoder's output (float with float, quantized with
 * quantized); a set that passes generates the float set's tokens, one that does not is refused with nothing written. The fixtures have no tokenizer, so
 * the evaluation rows are token ids of the task they were trained on (bos, 3-8 random ids in 3..255, eos).
 */
class QuantizeSeq2SeqExportTest {
    @TempDir
    static Path tmp;
    static Path eval;

    @BeforeAll
    static void evalRows() throws IOException {
        Random random = new Random(1);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            StringBuilder row = new StringBuilder("0");
            for (int k = 3 + random.nextInt(6); k > 0; k--) {
                row.append(' ').append(3 + random.nextInt(253));
            }
            lines.add(row.append(" 2").toString());
        }
        eval = Files.write(tmp.resolve("eval.txt"), lines);
    }

    @ParameterizedTest
    @CsvSource({"bart-reverse-trained, INT8", "bart-reverse-trained, INT4", "t5-reverse-trained, INT8"})
    void quantizedSetPassesTheGateAndGeneratesTheFloatSetsTokens(String name, QuantizeMode mode) {
        Path folder = export(name);
        QuantizeResult r = Stepwise.quantize(folder, tmp.resolve(name + "-" + mode),
                QuantizeOptions.defaults(mode).withEval(eval));
        for (QualityFigures f : r.quality()) {
            System.out.println(name + " " + mode + ": " + f.summary());
        }
        QualityFigures decoder = figures(r, "decoder_model.onnx");
        assertEquals("decoder", decoder.kind(), "the decoder is compared, not only loaded");
        assertTrue(decoder.compared() > 200, "positions compared: " + decoder.compared());
        assertTrue(decoder.top1() >= 0.98, "decoder top-1 on the generation path: " + decoder.top1());
        assertTrue(figures(r, "encoder_model.onnx").meanCosine() >= 0.995, "encoder cosine");

        // greedy until eos (the goldens' min_new_tokens forces tokens past the task's end, where nothing is trained)
        List<long[]> prompts = Seq2SeqGenerateTest.rows(ModelConfig.readJson(Fixtures.path("seq2seq/" + name).resolve("goldens.json"))
                .getAsJsonArray("rows"));
        assertEquals(greedy(folder, prompts), greedy(r.outputDir(), prompts), "greedy tokens, float vs " + mode);
    }

    @Test
    void t5Int4IsRefusedByTheGateAndNothingIsWritten() {
        Path folder = export("t5-reverse-trained");
        Path refused = tmp.resolve("t5-int4");
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> Stepwise.quantize(folder, refused, QuantizeOptions.defaults(QuantizeMode.INT4).withEval(eval)));
        System.out.println("t5-reverse-trained INT4: " + e.getMessage());
        assertTrue(e.getMessage().contains("decoder_model.onnx") && e.getMessage().contains("BELOW THRESHOLD"),
                e.getMessage());
        assertFalse(Files.exists(refused), "nothing written");
    }

    @Test
    void int8StaticRefusesASeq2SeqSetInOneLine() {
        Path folder = export("bart-reverse-trained");
        Path out = tmp.resolve("bart-static");
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.quantize(folder, out,
                QuantizeOptions.defaults(QuantizeMode.INT8_STATIC).withEval(eval)));
        assertTrue(e.getMessage().contains("int8-static does not calibrate seq2seq decoders"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertFalse(Files.exists(out), "nothing written");
    }

    private static synchronized Path export(String name) {
        Path folder = tmp.resolve(name);
        if (!Files.isDirectory(folder)) {
            Stepwise.export(Fixtures.path("seq2seq/" + name), folder, ExportOptions.defaults().withValidate(false));
        }
        return folder;
    }

    private static List<List<Long>> greedy(Path folder, List<long[]> prompts) {
        try (Seq2SeqModel model = Seq2SeqModel.open(folder)) {
            List<List<Long>> tokens = new ArrayList<>();
            for (List<long[]> seqs : model.generate(prompts, new GenerationConfig.Builder().maxNewTokens(12).build(0))) {
                tokens.add(Arrays.stream(seqs.get(0)).boxed().toList());
            }
            return tokens;
        }
    }

    private static QualityFigures figures(QuantizeResult r, String file) {
        return r.quality().stream().filter(f -> f.file().equals(file)).findFirst()
                .orElseThrow(() -> new AssertionError("no figures for " + file + ": " + r.quality()));
    }
}
