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
 * An exported, quantized or unrolled folder opened for generation ({@link Stepwise#open}): text in and text out with
 * the folder's tokenizer, or token ids in and out; greedy decoding, seeded sampling and beam search with transformers'
 * semantics; streaming of text (or of ids) as it is generated.
 *
 * <pre>{@code
 * try (LanguageModel model = Stepwise.open(Path.of("out"))) {
 *     String prompt = "def fib(n):";
 *     GenerationConfig settings = model.settings()            // the folder's generation_config.json ...
 *             .doSample(true).temperature(0.8).seed(42)        // ... with what differs
 *             .maxNewTokens(64).build(model.encode(prompt).length);
 *     String text = model.generate(prompt, settings, piece -> System.out.print(piece));
 * }
 * }</pre>
 *
 * <p>Settings start from the folder's {@code generation_config.json} ({@link #settings()}); the same settings and seed
 * give the same tokens. Thread-safe: one instance serves concurrent requests, each with its own decoding state and
 * KV cache. Close it when done; it holds the ONNX Runtime sessions and the memory-mapped weights.
 */
public final class LanguageModel implements AutoCloseable {
    /**
     * Hears each token as it is chosen, for streaming ids ({@link #generate(List, GenerationConfig, TokenListener)}).
     * It is called on the generating thread, in order of steps, before the next token is computed; a slow listener
     * slows generation down, an exception it throws ends the generation and reaches the caller.
     */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * One token was chosen.
         *
         * @param row   the sequence it belongs to: the prompt's index when each prompt has one sequence; with
         *              {@code num_return_sequences} {@code n} (sampling), prompt {@code p}'s sequences are rows
         *              {@code p * n} to {@code p * n + n - 1}
         * @param step  the generation step, from 0 (the token chosen after the prompt)
         * @param token the chosen token id; a row ends with its eos id, after which it hears nothing more
         */
        void onToken(int row, int step, long token);
    }

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
     * A builder of generation settings that holds the folder's {@code generation_config.json} (when it has one); set
     * what differs and {@link GenerationConfig.Builder#build(int) build} it. Each call returns a new builder.
     *
     * @return a builder holding the folder's defaults
     * @throws StepwiseException when {@code generation_config.json} is not valid JSON or a key has the wrong type
     */
    public GenerationConfig.Builder settings() {
        return GenerationConfig.Builder.fromModelDir(folder);
    }

    /**
     * Tokenizes {@code text} as transformers does with the folder's {@code tokenizer.json}, special tokens (such as
     * LLaMA's BOS) added as its post-processor says.
     *
     * @param text the text to tokenize
     * @return the token ids
     * @throws StepwiseException when the folder has no {@code tokenizer.json}
     */
    public long[] encode(String text) {
        return requireTokenizer().encode(text);
    }

    /**
     * The text of {@code ids} with the folder's tokenizer, special tokens skipped.
     *
     * @param ids token ids, for example a sequence returned by {@link #generate(List, GenerationConfig)}
     * @return their text
     * @throws StepwiseException when the folder has no {@code tokenizer.json}
     */
    public String decode(long[] ids) {
        return requireTokenizer().decode(ids);
    }

    /**
     * Generates a continuation of {@code prompt}: the text after the prompt (not including it) of the first sequence,
     * the best one for beam search.
     *
     * @param prompt   the text to continue; tokenized with {@link #encode}
     * @param settings how to generate; {@link #settings()} gives the folder's defaults
     * @return the generated text, possibly empty when eos came first
     * @throws StepwiseException when the folder has no tokenizer, the settings are invalid, or the prompt plus
     *                           {@code max_new_tokens} exceed the model's positions (or an unrolled folder's steps)
     */
    public String generate(String prompt, GenerationConfig settings) {
        return generate(prompt, settings, piece -> { });
    }

    /**
     * As {@link #generate(String, GenerationConfig)}, handing {@code onText} each new piece of text as soon as its
     * tokens decode to complete characters, so that the pieces, joined, are the returned text. Greedy decoding and
     * sampling with one returned sequence stream token by token; beam search knows its text only at the end, which is
     * then handed over in one piece.
     *
     * @param prompt   the text to continue; tokenized with {@link #encode}
     * @param settings how to generate; {@link #settings()} gives the folder's defaults
     * @param onText   receives the pieces of generated text, in order, on the calling thread
     * @return the generated text, the pieces joined
     * @throws StepwiseException when the folder has no tokenizer, the settings are invalid, or the prompt plus
     *                           {@code max_new_tokens} exceed the model's positions (or an unrolled folder's steps)
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
     * Generates from token ids, several prompts in one batch: rows of different lengths are left padded, and each row
     * gives the tokens it would give alone.
     *
     * @param prompts  one array of token ids per prompt, none empty
     * @param settings how to generate; {@link #settings()} gives the folder's defaults
     * @return per prompt, its sequences (one for greedy decoding, {@code num_return_sequences} for sampling and beam
     *         search, best first), each the prompt's ids followed by the generated ids and ending with eos when eos
     *         ended it
     * @throws StepwiseException when the settings are invalid, a prompt is empty or holds an id outside the vocabulary,
     *                           or a prompt plus {@code max_new_tokens} exceed the model's positions; its subclass
     *                           {@link dev.stepwise.runtime.generate.UnsupportedOptionException} when an unrolled
     *                           folder cannot honour the settings (more new tokens than it has steps, another batch
     *                           size or prompt length)
     */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig settings) {
        return new Generator(graphs).generate(prompts, settings);
    }

    /**
     * As {@link #generate(List, GenerationConfig)}, telling {@code listener} each token as it is chosen. Greedy
     * decoding and sampling only: beam search knows its sequences only at the end.
     *
     * @param prompts  one array of token ids per prompt, none empty
     * @param settings how to generate (not beam search)
     * @param listener hears every chosen token of every row
     * @return per prompt, its sequences, as {@link #generate(List, GenerationConfig)} returns them
     * @throws StepwiseException as {@link #generate(List, GenerationConfig)} does, and when {@code settings} ask for
     *                           beam search ({@code num_beams > 1})
     */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig settings, TokenListener listener) {
        return new Generator(graphs).generate(prompts, settings, listener::onToken);
    }

    private TextTokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new StepwiseException(folder + ": no tokenizer.json; generate from token ids instead of text");
        }
        return tokenizer;
    }

    /**
     * Closes the ONNX Runtime sessions, unmaps the weights and frees the tokenizer. Generations running on other
     * threads must have finished.
     *
     * @throws StepwiseException when ONNX Runtime fails to release a session
     */
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
