package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.GenerationGraph;
import dev.stepwise.runtime.generate.DecoderGraphs;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.quantize.Int8Scheme;
import dev.stepwise.runtime.quantize.QualityFigures;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * int8 dynamic quantization of the trained LLaMA fixture, exported with its loop and beam-search graphs and external
 * data: next-token agreement and KL on the built-in evaluation set, one shared weights file, every graph loading in
 * ONNX Runtime, greedy continuations before and after; and the command's one-line errors on bad input.
 */
class QuantizeTrainedLlamaTest {
    static final List<String> PROMPTS = List.of("def read_config(path):\n    with open(path) as f:\n",
            "class Point:\n    def __init__(self, x, y):\n", "import sys\n\nfor arg in sys.argv[1:]:\n");

    @TempDir
    static Path tmp;
    static Path exported;

    @BeforeAll
    static void export() {
        exported = exportWithSearchGraphs(tmp.resolve("export"));
    }

    /** The fixture exported unvalidated with external data and its loop and beam-search graphs. */
    static Path exportWithSearchGraphs(Path dir) {
        return Exporter.export(Fixtures.path("pylm-llama-trained"), dir,
                ExportOptions.defaults().withValidate(false).withExternalDataThreshold(0)
                        .withGeneration(Set.of(GenerationGraph.LOOP, GenerationGraph.BEAM_SEARCH))).outputDir();
    }

    /** The decoder, loop and beam-search graphs of {@code out} all read one weights file, model.onnx_data. */
    static void assertOneWeightsFile(Path out) throws IOException {
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("model.onnx_data"), files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".onnx_data")).toList());
        }
        for (String f : List.of("model.onnx", "model_loop.onnx", "model_beam_search.onnx")) {
            OnnxModelReader m = OnnxModelReader.load(out.resolve(f));
            assertEquals(Set.of("model.onnx_data"), m.externalFiles(), f);
        }
    }

    @Test
    void perChannelKeepsTheNextTokenAndOneWeightsFile() throws IOException {
        QuantizeResult r = Quantizer.quantize(exported, tmp.resolve("per-channel"), QuantizeOptions.defaults());
        QualityFigures decoder = r.quality().get(0);
        System.out.println("pylm-llama-trained int8 per-channel: " + decoder.summary() + "; " + r.bytesBefore()
                + " -> " + r.bytesAfter() + " bytes");
        assertEquals("decoder", decoder.kind());
        assertTrue(decoder.top1() >= 0.98, "top-1 " + decoder.top1());
        assertTrue(decoder.meanKl() < 1e-3, "KL " + decoder.meanKl());
        assertEquals(3, r.quality().size(), "model, loop and beam-search graphs, each loaded");

        Path out = r.outputDir();
        assertOneWeightsFile(out);
        assertTrue(OnnxModelReader.load(out.resolve("model.onnx")).opCounts().get("MatMulInteger") >= 43);
        // 42 layer matrices + the head, once for three graphs: a little over a quarter of the float weights
        long floatData = Files.size(exported.resolve("model.onnx_data"));
        long int8Data = Files.size(out.resolve("model.onnx_data"));
        assertTrue(int8Data < floatData * 0.4, int8Data + " vs " + floatData);
        assertTrue(Files.isRegularFile(out.resolve("quantize-report.json")));
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));

        try (ExportedModel f = ExportedModel.open(exported, 2); ExportedModel q = ExportedModel.open(out, 2);
             TextTokenizer tok = TextTokenizer.open(exported)) {
            int[] equal = greedyBeforeAfter("int8", f, q, tok, 24);
            assertTrue(equal[0] >= equal[1] * 0.75, equal[0] + "/" + equal[1]);
        }
    }

    /**
     * Greedy continuations of {@link #PROMPTS} ({@code tokens} new tokens) through the float and the quantized graphs,
     * printed one above the other; returns {tokens equal at the same position, tokens compared}.
     */
    static int[] greedyBeforeAfter(String label, DecoderGraphs f, DecoderGraphs q, TextTokenizer tok, int tokens) {
        int same = 0;
        int total = 0;
        List<long[]> prompts = new ArrayList<>();
        PROMPTS.forEach(p -> prompts.add(tok.encode(p)));
        List<long[]> a = new Generator(f).greedy(prompts, tokens);
        List<long[]> b = new Generator(q).greedy(prompts, tokens);
        for (int i = 0; i < prompts.size(); i++) {
            int n = prompts.get(i).length;
            for (int j = n; j < a.get(i).length && j < b.get(i).length; j++) {
                same += a.get(i)[j] == b.get(i)[j] ? 1 : 0;
                total++;
            }
            System.out.printf("greedy fp32: %s%n%11s: %s%n",
                    tok.decode(java.util.Arrays.copyOfRange(a.get(i), n, a.get(i).length)).replace("\n", "\\n"), label,
                    tok.decode(java.util.Arrays.copyOfRange(b.get(i), n, b.get(i).length)).replace("\n", "\\n"));
        }
        System.out.printf("greedy tokens equal (%s): %d/%d%n", label, same, total);
        return new int[] {same, total};
    }

    @Test
    void perTensorFigures() {
        QuantizeResult r = Quantizer.quantize(exported.resolve("model.onnx"), tmp.resolve("per-tensor"),
                QuantizeOptions.defaults().withScheme(new Int8Scheme(false, true, false)).withThresholds(0.95, 0.02, 0.99));
        QualityFigures decoder = r.quality().get(0);
        System.out.println("pylm-llama-trained int8 per-tensor: " + decoder.summary());
        assertTrue(decoder.top1() >= 0.95, "top-1 " + decoder.top1());
    }

    @Test
    void badInputsGiveOneLineErrorsAndWriteNothing() throws IOException {
        Path notOnnx = Files.writeString(tmp.resolve("notes.onnx"), "this is not a model");
        Path out = tmp.resolve("bad-out");
        assertOneLineError(run("quantize", "--model", notOnnx.toString(), "--output", out.toString()), 1,
                "notes.onnx", "not a readable ONNX model");
        assertOneLineError(run("quantize", "--model", tmp.resolve("missing.onnx").toString(), "--output", out.toString()),
                1, "missing.onnx", "no such file");
        assertOneLineError(run("quantize", "--model", exported.toString(), "--output", out.toString(), "--mode", "int3"),
                2, "--mode", "int3");
        assertOneLineError(run("quantize", "--model", exported.toString(), "--output", out.toString(),
                "--keep-float", "("), 2, "--keep-float");
        assertOneLineError(run("quantize", "--model", exported.toString(), "--output", out.toString(),
                "--min-top1", "1.5"), 2, "--min-top1");
        assertFalse(Files.exists(out));
        try (Stream<Path> left = Files.list(tmp)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".bad-out")), "no temporary folder left");
        }
    }

    record Outcome(int status, String stderr) {
    }

    static Outcome run(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return new Outcome(Main.run(args), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(saved);
        }
    }

    static void assertOneLineError(Outcome o, int status, String... mustContain) {
        assertEquals(status, o.status(), o.stderr());
        String line = o.stderr().lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("");
        assertFalse(line.isEmpty(), o.stderr());
        for (String s : mustContain) {
            assertTrue(line.contains(s), "'" + s + "' in: " + line);
        }
    }
}
