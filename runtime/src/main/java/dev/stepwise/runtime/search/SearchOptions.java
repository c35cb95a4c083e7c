package dev.stepwise.runtime.search;

import dev.stepwise.runtime.generate.GenerationConfig;

/**
 * What is fixed when a search graph is built: the operators take these as attributes, so a graph built with one
 * value cannot be run with another ({@link SearchEngine} says so rather than silently ignoring a request).
 *
 * @param opset             default-domain opset of the graph; 0 = the architecture's
 * @param eosTokenId        end-of-sequence id; -1 = the config's first eos id (the operators take exactly one)
 * @param padTokenId        pad id; -1 = the config's pad id (which falls back to eos)
 * @param noRepeatNgramSize an n-gram may not occur twice (0 = off)
 * @param earlyStopping     beam search: stop a prompt as soon as {@code num_beams} hypotheses are finished
 * @param temperature       sampling: logits are divided by it
 * @param topP              sampling: nucleus probability (1 = off)
 * @param positionsFromMask the decoder computes position ids from the attention mask (cumulative sum − 1) instead of
 *                          taking the operator's, which ONNX Runtime derives by comparing prompt tokens with the pad id
 *                          and so gets wrong for a prompt that contains the pad token (GPT-2's pad is its eos)
 * @param weightsInDecoder  keep the weights as initializers of the decoder subgraph instead of the main graph. The main
 *                          graph (onnxruntime's own layout for shared weights) works with {@code OnnxModelWriter}'s
 *                          inline and external-data modes alike; subgraph initializers need external data to be
 *                          written by the caller's sink and kept external
 */
public record SearchOptions(int opset, long eosTokenId, long padTokenId, int noRepeatNgramSize, boolean earlyStopping,
                            float temperature, float topP, boolean positionsFromMask, boolean weightsInDecoder) {

    public SearchOptions {
        if (opset < 0) {
            throw new IllegalArgumentException("opset must be >= 0, got " + opset);
        }
        if (noRepeatNgramSize < 0) {
            throw new IllegalArgumentException("no_repeat_ngram_size must be >= 0, got " + noRepeatNgramSize);
        }
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
    }

    /** The architecture's opset and the config's eos/pad, no n-gram blocking, no early stopping, temperature 1, top-p off. */
    public static SearchOptions defaults() {
        return new SearchOptions(0, -1, -1, 0, false, 1f, 1f, true, false);
    }

    /** The graph-time settings of a generation request (eos/pad from it when it names them). */
    public static SearchOptions from(GenerationConfig config) {
        long eos = config.eosTokenIds().isEmpty() ? -1 : config.eosTokenIds().get(0);
        return new SearchOptions(0, eos, config.padTokenId(), config.noRepeatNgramSize(), config.earlyStopping(),
                (float) config.temperature(), (float) config.topP(), true, false);
    }

    public SearchOptions withOpset(int value) {
        return new SearchOptions(value, eosTokenId, padTokenId, noRepeatNgramSize, earlyStopping, temperature, topP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withEosTokenId(long value) {
        return new SearchOptions(opset, value, padTokenId, noRepeatNgramSize, earlyStopping, temperature, topP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withPadTokenId(long value) {
        return new SearchOptions(opset, eosTokenId, value, noRepeatNgramSize, earlyStopping, temperature, topP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withNoRepeatNgramSize(int value) {
        return new SearchOptions(opset, eosTokenId, padTokenId, value, earlyStopping, temperature, topP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withEarlyStopping(boolean value) {
        return new SearchOptions(opset, eosTokenId, padTokenId, noRepeatNgramSize, value, temperature, topP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withSampling(float newTemperature, float newTopP) {
        return new SearchOptions(opset, eosTokenId, padTokenId, noRepeatNgramSize, earlyStopping, newTemperature, newTopP,
                positionsFromMask, weightsInDecoder);
    }

    public SearchOptions withPositionsFromMask(boolean value) {
        return new SearchOptions(opset, eosTokenId, padTokenId, noRepeatNgramSize, earlyStopping, temperature, topP,
                value, weightsInDecoder);
    }

    public SearchOptions withWeightsInDecoder(boolean value) {
        return new SearchOptions(opset, eosTokenId, padTokenId, noRepeatNgramSize, earlyStopping, temperature, topP,
                positionsFromMask, value);
    }
}
