package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The reference decoder: greedy, seeded sampling and beam search on ONNX Runtime, with the KV cache kept as ONNX
 * Runtime tensors: each step's present tensors are fed straight back as the next step's past, never copied through
 * Java arrays (beam search reorders them with a small Gather session, see {@link CacheGather}). Rows of different
 * lengths are left padded with the pad id; the mask marks padding and position ids follow the mask (cumulative sum
 * − 1), so a padded row produces the same tokens as the row alone.
 *
 * <p>Greedy and sampling choose each token with {@link TokenSampler} (its class comment is the exact procedure, seeded
 * draw included); beam search is {@link BeamSearch}, with transformers' semantics. Results are per prompt: a list of
 * sequences (one for greedy, {@code num_return_sequences} for sampling and beam search), each the prompt followed by
 * the generated tokens, ending with the eos id when one ended it.
 */
public final class Generator {
    /** Called once per generated token (streaming). {@code row} is the row of the expanded batch. */
    public interface TokenListener {
        void onToken(int row, int step, long token);

        /** Listens to nothing. */
        TokenListener NONE = (row, step, token) -> { };
    }

    private final StepModelSource model;

    /**
     * Generates with {@code model}: an {@link ExportedModel}, or any other {@link StepModelSource} (an unrolled
     * folder's step graphs). The generator holds no state of its own between calls, so it is as thread-safe as the
     * source (both built-in ones are: each call starts its own step model).
     */
    public Generator(StepModelSource model) {
        this.model = model;
    }

    /** Per row: the prompt ids followed by the generated ids, ending after eos when eos was produced. */
    public List<long[]> greedy(List<long[]> prompts, int maxNewTokens) {
        return greedy(prompts, maxNewTokens, TokenListener.NONE);
    }

    public List<long[]> greedy(List<long[]> prompts, int maxNewTokens, TokenListener listener) {
        if (maxNewTokens < 1) {
            throw new StepwiseException("max new tokens must be at least 1, got " + maxNewTokens);
        }
        return first(generate(prompts, GenerationConfig.greedy(maxNewTokens), listener));
    }

    /** Generates as the config says (greedy, sampling or beam search), with transformers' early stopping rules. */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig config) {
        return generate(prompts, config, BeamOptions.of(config), TokenListener.NONE);
    }

    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig config, TokenListener listener) {
        return generate(prompts, config, BeamOptions.of(config), listener);
    }

    /**
     * The full form. The listener hears every token of greedy decoding and sampling; beam search knows its sequences
     * only at the end, so it accepts no listener (as transformers' streamers).
     */
    public List<List<long[]>> generate(List<long[]> prompts, GenerationConfig config, BeamOptions beamOptions,
                                       TokenListener listener) {
        config.validate();
        if (config.isBeamSearch()) {
            if (listener != TokenListener.NONE) {
                throw new StepwiseException("streaming tokens is not available with beam search (num_beams > 1)");
            }
            return beamSearch(prompts, config, beamOptions);
        }
        return decode(prompts, config, listener);
    }

    /**
     * Beam search even for {@code num_beams = 1} (which {@link #generate} answers with greedy decoding, as
     * transformers does; a one-beam search gives the same tokens unless a processor treats logits and log-probabilities
     * differently).
     */
    public List<List<long[]>> beamSearch(List<long[]> prompts, GenerationConfig config, BeamOptions beamOptions) {
        config.validate();
        if (config.doSample()) {
            throw new StepwiseException("beam search does not sample; do_sample must be false");
        }
        check(prompts, config.maxNewTokens());
        List<long[]> rows = expand(prompts, config.numBeams());
        model.check(rows, config);
        int padded = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        Set<Long> eos = eos(config);
        try (StepModel run = model.start(rows, pad(config), true)) {
            return new BeamSearch(config, beamOptions, eos, pad(config)).run(run, prompts, padded);
        }
    }

    /** Greedy or sampling: one token per unfinished row per step, chosen by {@link TokenSampler}. */
    private List<List<long[]>> decode(List<long[]> prompts, GenerationConfig config, TokenListener listener) {
        check(prompts, config.maxNewTokens());
        int perPrompt = config.doSample() ? config.numReturnSequences() : 1;
        List<long[]> rows = expand(prompts, perPrompt);
        model.check(rows, config);
        List<long[]> done;
        try (StepModel run = model.start(rows, pad(config), false)) {
            done = TokenLoop.run(run, rows, config, eos(config), pad(config), listener);
        }
        List<List<long[]>> out = new ArrayList<>();
        for (int b = 0; b < prompts.size(); b++) {
            out.add(new ArrayList<>(done.subList(b * perPrompt, (b + 1) * perPrompt)));
        }
        return out;
    }

    /** Each prompt repeated {@code times} times in a row (transformers' repeat_interleave). */
    static List<long[]> expand(List<long[]> prompts, int times) {
        List<long[]> rows = new ArrayList<>();
        for (long[] p : prompts) {
            for (int j = 0; j < times; j++) {
                rows.add(p);
            }
        }
        return rows;
    }

    private Set<Long> eos(GenerationConfig config) {
        Set<Long> eos = config.eosTokenIds().isEmpty() ? model.eosIds() : new LinkedHashSet<>(config.eosTokenIds());
        int vocab = model.vocabSize();
        for (long id : eos) {
            if (id >= vocab) {
                throw new StepwiseException("eos_token_id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        return eos;
    }

    private long pad(GenerationConfig config) {
        return config.padTokenId() >= 0 ? config.padTokenId() : model.padId();
    }

    private void check(List<long[]> prompts, int maxNewTokens) {
        PromptRows.check(prompts, model.vocabSize(), model.maxPositions(), maxNewTokens);
    }

    private static List<long[]> first(List<List<long[]>> perPrompt) {
        List<long[]> out = new ArrayList<>();
        for (List<long[]> s : perPrompt) {
            out.add(s.get(0));
        }
        return out;
    }
}
