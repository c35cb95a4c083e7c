package dev.stepwise.runtime.generate;

import java.util.List;

/**
 * How to generate, with transformers' names and meanings. Defaults are greedy decoding of up to 20 new tokens; a
 * model folder's {@code generation_config.json} supplies defaults that command-line flags override.
 *
 * @param maxNewTokens       upper bound of generated tokens per sequence
 * @param minNewTokens       eos is suppressed until this many tokens were generated
 * @param doSample           sample instead of argmax / beam scores
 * @param temperature        logits are divided by it before sampling (1 = unchanged)
 * @param topK               keep the k most likely tokens when sampling (0 = off)
 * @param topP               nucleus: keep the smallest set whose probability reaches p (1 = off)
 * @param seed               sampling seed; the same seed gives the same tokens
 * @param numBeams           beam search width (1 = no beam search)
 * @param lengthPenalty      beam scores are divided by length^lengthPenalty
 * @param earlyStopping      beam search stops when numBeams hypotheses are finished
 * @param numReturnSequences sequences returned per prompt (≤ numBeams)
 * @param noRepeatNgramSize  an n-gram may not occur twice (0 = off)
 * @param repetitionPenalty  CTRL-style penalty on already present tokens (1 = off)
 * @param eosTokenIds        any of these ends a sequence; empty = the model's
 * @param padTokenId         pad id, or -1 for the model's
 */
public record GenerationConfig(int maxNewTokens, int minNewTokens, boolean doSample, double temperature, int topK,
                               double topP, long seed, int numBeams, double lengthPenalty, boolean earlyStopping,
                               int numReturnSequences, int noRepeatNgramSize, double repetitionPenalty,
                               List<Long> eosTokenIds, long padTokenId) {

    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, 0, false, 1.0, 0, 1.0, 0, 1, 1.0, false, 1, 0, 1.0, List.of(), -1);
    }
}
