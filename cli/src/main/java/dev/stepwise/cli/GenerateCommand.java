package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import dev.stepwise.runtime.generate.GenerationEngines;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.generate.TokenStream;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.unroll.StepGraphEngine;
import dev.stepwise.runtime.unroll.UnrollManifest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate with an exported model folder on ONNX Runtime: greedy, seeded sampling or beam search.",
            "On a seq2seq export the prompt is the encoder's input and the output the decoded sequence (which starts "
                + "with decoder_start_token_id); max_length counts decoder tokens.",
            "Defaults come from the folder's generation_config.json (transformers' defaults where it is silent); "
                + "flags override them.",
            "With one prompt and one returned sequence, greedy decoding and sampling print token by token (the Java "
                + "engine); otherwise each sequence prints when generation ends."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "EXPORTED_DIR|ORG/NAME[@REV]",
            description = "Folder written by 'stepwise export', or a model id in the local Hugging Face cache.")
    Path model;

    @ParentCommand
    Main main;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "Text prompt (needs tokenizer.json).")
        String text;

        @Option(names = "--input-ids", paramLabel = "IDS", description = "Token ids: rows separated by ';', ids by ','.")
        String ids;
    }

    @Mixin
    GenerationFlags.Length length;

    @Option(names = "--greedy", description = "Greedy decoding (overrides do_sample and num_beams of generation_config.json).")
    boolean greedy;

    @Option(names = "--do-sample", description = "Seeded sampling (temperature, top-k, top-p).")
    boolean doSample;

    @Mixin
    GenerationFlags.Sampling sampling;

    @Mixin
    GenerationFlags.Beam beam;

    @Mixin
    GenerationFlags.TokenRules rules;

    @Option(names = "--engine", defaultValue = "java", paramLabel = "java|loop|beam-search",
            description = "Who runs the generation: the Java step loop (default; on an unrolled folder it drives the step graphs), "
                + "the ONNX Loop graph or ONNX Runtime's BeamSearch graph. An option the engine cannot honour exits 2 naming both.")
    String engine;

    @Option(names = "--print-ids", description = "Print ids instead of text: one line per returned sequence, prompts in order "
            + "(streamed token by token like text when one sequence is generated).")
    boolean printIds;

    @Option(names = "--print-prompt-ids",
            description = "Print the prompt ids used (special tokens included) to stderr, one 'prompt ids:' line per prompt.")
    boolean printPromptIds;

    @Mixin
    OrtThreadsOption threads;

    @Option(names = "--seq2seq-decoder", defaultValue = "optimum", paramLabel = "optimum|merged|single",
            description = "Seq2seq export: optimum's decoder pair (default), the merged decoder (If on use_cache_branch)"
                + " or Stepwise's single decoder graph.")
    String seq2seqDecoder;

    @Override
    public Integer call() {
        Path model = main.locateModel(this.model);
        List<long[]> rows = prompt.ids != null ? parseIds(prompt.ids) : null;
        boolean seq2seq = Seq2SeqModel.isExport(model);
        GenerationEngines.Kind kind;
        GenerationConfig.Builder builder;
        BeamOptions beamOptions;
        Seq2SeqModel.Decoder decoder;
        try {
            kind = GenerationEngines.Kind.parse(engine);
            decoder = parseDecoder(seq2seqDecoder);
            builder = GenerationConfig.Builder.fromModelDir(model);
            beamOptions = applyFlags(builder);
        } catch (IllegalArgumentException | UsageError e) {
            return usage(e.getMessage());
        }
        TextTokenizer tokenizer = null;
        try {
            if (rows == null || !printIds) {
                tokenizer = TextTokenizer.open(model);
            }
            if (rows == null) {
                rows = List.of(tokenizer.encode(prompt.text));
            }
            int longest = rows.stream().mapToInt(r -> r.length).max().orElse(0);
            GenerationConfig config;
            try {
                // a seq2seq decoder's prompt is decoder_start_token_id alone: max_length counts decoder tokens
                config = builder.build(seq2seq ? 1 : longest);
                checkFlagsApply(config);
            } catch (StepwiseException | UsageError e) {
                return usage(e.getMessage());
            }
            if (printPromptIds) {
                // stderr, so that stdout stays exactly the generated lines
                for (long[] row : rows) {
                    spec.commandLine().getErr().println("prompt ids: " + join(row));
                }
                spec.commandLine().getErr().flush();
            }
            if (seq2seq) {
                if (kind != GenerationEngines.Kind.JAVA) {
                    return usage("--engine " + kind.cliName() + ": " + model + " is a seq2seq export, which the java"
                            + " engine runs (drop --engine)");
                }
                return print(generateSeq2Seq(model, decoder, rows, config, beamOptions, tokenizer), tokenizer);
            }
            if (decoder != Seq2SeqModel.Decoder.OPTIMUM) {
                return usage("--seq2seq-decoder applies to a seq2seq export; " + model + " is not one");
            }
            UnrollManifest unrolled = UnrollManifest.readIfPresent(model);
            if (unrolled != null && kind != GenerationEngines.Kind.JAVA) {
                return usage("--engine " + kind.cliName() + ": " + model + " is an unrolled step-graph folder, which the "
                        + "java engine runs (drop --engine)");
            }
            TokenStream stream = stream(kind, config, rows, rows.get(0), tokenizer);
            Generator.TokenListener listener = stream != null ? stream : Generator.TokenListener.NONE;
            GenerationEngine chosen = unrolled != null ? new StepGraphEngine(threads.count, beamOptions, listener)
                    : GenerationEngines.create(kind, threads.count, beamOptions, listener);
            List<List<long[]>> out;
            try {
                out = chosen.generate(model, rows, config);
            } catch (UnsupportedOptionException e) {
                return usage(e.getMessage());
            }
            if (stream != null) {
                stream.finish();
                return 0;
            }
            return print(out, tokenizer);
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
    }

    /** A seq2seq export's generation: the prompts are the encoder's inputs; streams as the decoder-only path does. */
    private List<List<long[]>> generateSeq2Seq(Path model, Seq2SeqModel.Decoder decoder, List<long[]> rows,
                                               GenerationConfig config, BeamOptions beamOptions,
                                               TextTokenizer tokenizer) {
        try (Seq2SeqModel s2s = Seq2SeqModel.open(model, decoder, threads.count)) {
            TokenStream stream = stream(GenerationEngines.Kind.JAVA, config, rows,
                    new long[] {s2s.decoderStartTokenId()}, tokenizer);
            List<List<long[]>> out = s2s.generate(rows, config, beamOptions,
                    stream != null ? stream : Generator.TokenListener.NONE);
            if (stream != null) {
                stream.finish();
                return List.of();
            }
            return out;
        }
    }

    /** The token-by-token printer of {@code prompt}'s continuation when the request streams ({@link #streams}). */
    private TokenStream stream(GenerationEngines.Kind kind, GenerationConfig config, List<long[]> rows, long[] prompt,
                               TextTokenizer tokenizer) {
        if (!streams(kind, config, rows.size())) {
            return null;
        }
        return printIds ? TokenStream.ids(System.out, prompt) : TokenStream.text(System.out, tokenizer::decode, prompt);
    }

    /** Each sequence on a line (none when they were streamed). */
    private int print(List<List<long[]>> out, TextTokenizer tokenizer) {
        for (List<long[]> sequences : out) {
            for (long[] s : sequences) {
                System.out.println(printIds ? join(s) : tokenizer.decode(s));
            }
        }
        return 0;
    }

    private static Seq2SeqModel.Decoder parseDecoder(String name) {
        try {
            return Seq2SeqModel.Decoder.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageError("--seq2seq-decoder must be optimum, merged or single, not '" + name + "'");
        }
    }

    /**
     * Streaming (token by token) needs a step loop that reports tokens (the Java engine, greedy or sampling) and one
     * sequence on the output: with several prompts or return sequences, lines would interleave, so those print at the
     * end, as beam search always does.
     */
    static boolean streams(GenerationEngines.Kind kind, GenerationConfig config, int prompts) {
        return kind == GenerationEngines.Kind.JAVA && !config.isBeamSearch() && prompts == 1
                && config.numReturnSequences() == 1;
    }

    /** A flag combination that cannot work: exit status 2 with one line. */
    static final class UsageError extends RuntimeException {
        UsageError(String message) {
            super(message);
        }
    }

    private int usage(String message) {
        spec.commandLine().getErr().println("error: " + message);
        return 2;
    }

    private BeamOptions applyFlags(GenerationConfig.Builder b) {
        if (greedy && doSample) {
            throw new UsageError("--greedy and --do-sample exclude each other");
        }
        if (greedy && beam.numBeams != null && beam.numBeams > 1) {
            throw new UsageError("--greedy and --num-beams " + beam.numBeams + " exclude each other");
        }
        if (greedy) {
            b.doSample(false).numBeams(1);
        }
        if (doSample) {
            b.doSample(true);
        }
        length.applyTo(b);
        sampling.applyTo(b);
        beam.applyTo(b);
        rules.applyTo(b);
        return b.beamOptions().withConvention(beam.convention());
    }

    /** Flags given for a mode that is not the one chosen are a mistake, not something to ignore silently. */
    private void checkFlagsApply(GenerationConfig config) {
        if (!config.doSample() && sampling.given() != null) {
            throw new UsageError(sampling.given() + " applies only to sampling (add --do-sample)");
        }
        if (!config.isBeamSearch() && beam.given() != null) {
            throw new UsageError(beam.given() + " applies only to beam search (add --num-beams K with K > 1)");
        }
    }

    List<long[]> parseIds(String text) {
        List<long[]> rows = new ArrayList<>();
        String[] parts = text.split(";", -1);
        for (int r = 0; r < parts.length; r++) {
            String row = parts[r].trim();
            if (row.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--input-ids: row " + r + " is empty");
            }
            String[] items = row.split(",");
            long[] ids = new long[items.length];
            for (int i = 0; i < items.length; i++) {
                try {
                    ids[i] = Long.parseLong(items[i].trim());
                } catch (NumberFormatException e) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "--input-ids: row " + r + ": '" + items[i].trim() + "' is not an integer token id");
                }
            }
            rows.add(ids);
        }
        return rows;
    }

    static String join(long[] row) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < row.length; i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(row[i]);
        }
        return sb.toString();
    }

    static void fail(String message) {
        throw new StepwiseException(message);
    }
}
