package dev.stepwise.cli;

import dev.stepwise.runtime.LanguageModel;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.UnrollResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job end to end on the model embedded in the CLI ({@code demo/}: a 2.2M-parameter LLaMA trained on CPython's
 * standard library by {@code tools/demo_model/train.py}): export validated against the PyTorch reference, int8 with
 * its quality gate, a few unrolled static step graphs, then text generated through the facade from the float and
 * the int8 folders, and a left-padded batch checked row by row against each row alone. Every stage prints its time and
 * output size on stderr; the generated text goes to stdout.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Export the embedded Python-trained LLaMA (2.2M parameters), validate it against PyTorch,",
            "quantize it to int8, unroll a few static steps and generate Python code with each."})
final class DemoCommand implements Callable<Integer> {
    /** The embedded model's files, next to this class on the class path. */
    static final List<String> MODEL_FILES = List.of("config.json", "generation_config.json", "model.safetensors",
            "tokenizer.json", "tokenizer_config.json", "training.json");
    static final List<String> PROMPTS = List.of("def fib(n):", "import os\n", "class Stack:");
    /** The unrolled shapes: one row, prompts up to 8 tokens, 8 new tokens (8 step graphs). */
    static final int UNROLL_SEQUENCE = 8;
    static final int UNROLL_STEPS = 8;
    /** ONNX Runtime threads for generation: matrices of 192 columns are too small to share among cores. */
    static final int THREADS = 1;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to keep the files (default: a temporary folder, removed after).")
    Path workDir;

    @Option(names = "--max-new-tokens", defaultValue = "48", description = "New tokens per prompt (default 48).")
    int maxNewTokens;

    private long demoStarted;

    @Override
    public Integer call() throws IOException {
        if (maxNewTokens < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--max-new-tokens: at least 1, got " + maxNewTokens);
        }
        boolean temporary = workDir == null;
        Path work = temporary ? Files.createTempDirectory("stepwise-demo-") : workDir;
        demoStarted = System.nanoTime();
        try {
            Path checkpoint = work.resolve("checkpoint");
            Path exported = work.resolve("onnx");
            Path quantized = work.resolve("onnx-int8");
            Path unrolled = work.resolve("unrolled");

            long t = System.nanoTime();
            System.err.println("[1/5] checkpoint: the embedded LLaMA trained on CPython's standard library -> " + checkpoint);
            copyEmbeddedModel(checkpoint);
            done("checkpoint", t, checkpoint);

            t = System.nanoTime();
            System.err.println("[2/5] export: KV-cache decoder, validated against the PyTorch reference -> " + exported);
            ExportResult export = Stepwise.export(checkpoint, exported, ExportOptions.defaults().withProgress(new ConsoleProgress()));
            ExportCommand.printValidation(export);
            done("export", t, exported);

            t = System.nanoTime();
            System.err.println("[3/5] quantize: int8 dynamic, LM head float, gated against the float export -> " + quantized);
            // The tied LM head reads the embedding table, which stays float for the lookup anyway: keeping the head
            // float costs no bytes, and on a model this small its int8 error alone moves the top-1 below the gate.
            QuantizeResult q = Stepwise.quantize(exported, quantized, QuantizeOptions.defaults(QuantizeMode.INT8)
                    .withKeepFloat(Pattern.compile(Pattern.quote("model.embed_tokens.weight"))));
            QuantizeCommand.printSummary(q, System.err);
            done("quantize", t, quantized);

            t = System.nanoTime();
            System.err.printf("[4/5] unroll: %d static step graphs, batch 1, prompts up to %d tokens -> %s%n", UNROLL_STEPS,
                    UNROLL_SEQUENCE, unrolled);
            UnrollResult u = Stepwise.unroll(checkpoint, unrolled, UnrollOptions.of(1, UNROLL_SEQUENCE, UNROLL_STEPS)
                    .withProgress(new ConsoleProgress()));
            UnrollCommand.printReport(u);
            done("unroll", t, unrolled);

            t = System.nanoTime();
            System.err.printf("[5/5] generate: greedy with generation_config.json's repetition penalty, %d new tokens per"
                    + " prompt, through Stepwise.open(...)%n", maxNewTokens);
            generate(exported, quantized, unrolled);
            done("generate", t, null);
            System.err.printf(Locale.ROOT, "demo finished in %.1f s: export validated, int8 gated, step graphs checked,"
                    + " padded batch matches unpadded rows%n", seconds(demoStarted));
            return 0;
        } finally {
            if (temporary) {
                OutputFolder.deleteRecursively(work);
            }
        }
    }

    /** Text from the float and int8 exports and the unrolled graphs, and the padded-batch check on the float export. */
    private void generate(Path exported, Path quantized, Path unrolled) {
        List<String> floatTexts = new ArrayList<>();
        try (LanguageModel model = Stepwise.open(exported, THREADS)) {
            GenerationConfig greedy = model.settings().maxNewTokens(maxNewTokens).doSample(false).build(0);
            for (String prompt : PROMPTS) {
                floatTexts.add(show("fp32", prompt, model, greedy));
            }
            paddedBatchCheck(model, greedy);
        }
        try (LanguageModel model = Stepwise.open(quantized, THREADS)) {
            GenerationConfig greedy = model.settings().maxNewTokens(maxNewTokens).doSample(false).build(0);
            for (int i = 0; i < PROMPTS.size(); i++) {
                String text = show("int8", PROMPTS.get(i), model, greedy);
                System.err.printf("  int8 %s: %d of %d characters the same as fp32 before they differ%n",
                        quote(PROMPTS.get(i)), commonPrefix(text, floatTexts.get(i)), floatTexts.get(i).length());
            }
        }
        // Step graphs hold exactly UNROLL_STEPS new tokens for one row; the text must be where fp32's starts.
        try (LanguageModel model = Stepwise.open(unrolled, THREADS)) {
            GenerationConfig greedy = model.settings().maxNewTokens(Math.min(UNROLL_STEPS, maxNewTokens)).doSample(false)
                    .build(0);
            String text = show("step graphs", PROMPTS.get(0), model, greedy);
            boolean same = floatTexts.get(0).startsWith(text);
            System.err.printf("  step graphs %s: %d tokens, the start of the fp32 export's text: %s%n", quote(PROMPTS.get(0)),
                    greedy.maxNewTokens(), same ? "yes" : "NO");
            if (!same) {
                throw new StepwiseException("demo: the unrolled step graphs generated other text than the export");
            }
        }
    }

    /** Streams the prompt and its continuation to stdout under a header naming the model. */
    private static String show(String label, String prompt, LanguageModel model, GenerationConfig greedy) {
        System.out.println("--- " + label + ": " + quote(prompt) + " ---");
        System.out.print(prompt);
        String text = model.generate(prompt, greedy, piece -> {
            System.out.print(piece);
            System.out.flush();
        });
        System.out.println();
        return text;
    }

    /** The prompts as one left-padded batch must give each row the tokens it gets alone. */
    private static void paddedBatchCheck(LanguageModel model, GenerationConfig greedy) {
        List<long[]> prompts = PROMPTS.stream().map(model::encode).toList();
        List<List<long[]>> batch = model.generate(prompts, greedy);
        boolean same = true;
        for (int r = 0; r < prompts.size(); r++) {
            long[] alone = model.generate(List.of(prompts.get(r)), greedy).get(0).get(0);
            long[] row = batch.get(r).get(0);
            boolean rowSame = Arrays.equals(alone, row);
            same &= rowSame;
            System.err.printf("  padded batch row %d %s: %d prompt + %d new tokens; same as generating the row alone: %s%n",
                    r, quote(PROMPTS.get(r)), prompts.get(r).length, row.length - prompts.get(r).length,
                    rowSame ? "yes" : "NO");
        }
        if (!same) {
            throw new StepwiseException("demo: a padded row generated different tokens than alone");
        }
    }

    /** Copies the embedded model out of the class path (a jar or a classes folder alike). */
    static void copyEmbeddedModel(Path target) {
        try {
            if (Files.exists(target)) {
                OutputFolder.deleteRecursively(target);
            }
            Files.createDirectories(target);
            for (String name : MODEL_FILES) {
                try (InputStream in = DemoCommand.class.getResourceAsStream("demo/" + name)) {
                    if (in == null) {
                        throw new StepwiseException("demo: the embedded model file " + name + " is missing from the class"
                                + " path (dev/stepwise/cli/demo/)");
                    }
                    Files.copy(in, target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot write the demo model: " + e.getMessage(), e);
        }
    }

    private static void done(String stage, long started, Path output) {
        if (output == null) {
            System.err.printf(Locale.ROOT, "  -> %s: %.1f s%n", stage, seconds(started));
        } else {
            System.err.printf(Locale.ROOT, "  -> %s: %.1f s, %s on disk%n", stage, seconds(started), megabytes(output));
        }
    }

    private static double seconds(long started) {
        return (System.nanoTime() - started) / 1e9;
    }

    /** Bytes of the files under {@code dir}, in MB. */
    private static String megabytes(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            long bytes = files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
            return String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
        } catch (IOException e) {
            throw new StepwiseException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
