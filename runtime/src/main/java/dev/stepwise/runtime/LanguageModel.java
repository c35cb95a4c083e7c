package dev.stepwise.runtime;

import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.DecoderGraphs;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.generate.TokenStream;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * An exported or unrolled folder opened for generation: text in and text out (with the folder's tokenizer, special
 * tokens added as transformers adds them), or token ids in and out; greedy decoding, seeded sampling and beam search
 * with transformers' semantics; streaming of text as it is generated. Settings start from the folder's
 * {@code generation_config.json} ({@link #settings()}).
 *
 * <p>Thread-safe: one instance serves concurrent requests (each has its own decoding state). Close it when done; it
 * holds the ONNX Runtime sessions and the memory-mapped weights.
 */
public final class LanguageModel implements AutoCloseable {
    private final Path folder;
    private final DecoderGraphs graphs;
    private final AutoCloseable owner;
    private final TextTokenizer tokenizer;

    private LanguageModel(Path folder, DecoderGraphs graphs, AutoCloseable owner, TextTokenizer tokenizer) {
        this.folder = folder;
        this.graphs = graphs;
        this.owner = owner;
        this.tokenizer = tokenizer;
    }

    static LanguageModel open(Path folder, int threads) {
        TextTokenizer tokenizer = Files.isRegularFile(folder.resolve("tokenizer.json")) ? TextTokenizer.open(folder) : null;
        try {
            if (UnrollManifest.readIfPresent(folder) != null) {
                StepGraphs steps = StepGraphs.open(folder, threads);
                return new LanguageModel(folder, steps, steps, tokenizer);
            }
            ExportedModel model = ExportedModel.open(folder, threads);
            return new LanguageModel(folder, model, model, tokenizer);
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        }
    }

    /**
     * A builder of generation settings holding the folder's {@code generation_config.json} defaults; set what differs
     * and {@code build(promptLength)} (the prompt length resolves {@code max_length} into new tokens).
     */
    public GenerationConfig.Builder settings() {
        return GenerationConfig.Builder.fromModelDir(folder);
    }

    /** The prompt's ids as the folder's tokenizer makes them (BOS and other special tokens included). */
    public long[] encode(String text) {
        return requireTokenizer().encode(text);
    }

    /** Text of {@code ids}, special tokens skipped. */
    public String decode(long[] ids) {
        return requireTokenizer().decode(ids);
    }

    /** The text generated after {@code prompt} (not including it), by the first returned sequence. */
    public String generate(String prompt, GenerationConfig settings) {
        return generate(prompt, settings, piece -> { });
    }

    /**
     * As {@link #generate(String, GenerationConfig)}, handing {@code onText} each new piece of text as soon as its
     * tokens are decoded (greedy and sampling with one sequence; beam search knows its text only at the end, which is
     * then handed over in one piece).
     */
    public String generate(String prompt, GenerationConfig settings, Consumer<String> onText) {
        long[] ids = encode(prompt);
        StringBuilder all = new StringBuilder();
        Consumer<String> collect = piece -> {
            all.append(piece);
            onText.accept(piece);
        };
        boolean streams = !settings.isBeamSearch() && settings.numReturnSequences() == 1;
        TokenStream stream = streams ? TokenStream.newText(collect, this::decode, ids) : null;
        long[] out = new Generator(graphs).generate(List.of(ids), settings, BeamOptions.of(settings),
                stream != null ? stream : Generator.TokenListener.NONE).get(0).get(0);
        if (stream != null) {
            stream.finish();
            return all.toString();
        }
        String text = decode(out);
        String promptText = decode(ids);
        String generated = text.startsWith(promptText) ? text.substring(promptText.length()) : text;
        onText.accept(generated);
        return generated;
    }

    /**
     * Generates from token ids: per prompt, its sequences (one for greedy, {@code num_return_sequences} otherwise),
     * each the prompt followed by the generated ids, ending with eos when eos ended it.
     */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig settings) {
        return new Generator(graphs).generate(prompts, settings);
    }

    /** As {@link #generate(List, GenerationConfig)}, telling {@code listener} each token as it is chosen. */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig settings, Generator.TokenListener listener) {
        return new Generator(graphs).generate(prompts, settings, listener);
    }

    private TextTokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new StepwiseException(folder + ": no tokenizer.json; generate from token ids instead of text");
        }
        return tokenizer;
    }

    @Override
    public void close() {
        try {
            owner.close();
        } catch (Exception e) {
            throw new StepwiseException(folder + ": cannot close: " + e.getMessage(), e);
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
    }
}
