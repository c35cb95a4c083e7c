package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.model.ModelConfig;
import java.util.Set;

/**
 * What a {@link StepModelSource} checks every request against and fills in where the request names nothing: the eos
 * and pad ids, the vocabulary size token ids must stay below, and the positions prompt plus new tokens must fit in.
 */
public record SourceLimits(Set<Long> eosIds, long padId, int vocabSize, int maxPositions) {
    /** The ids given, with the config's vocabulary size and positions. */
    public static SourceLimits of(Set<Long> eosIds, long padId, ModelConfig config) {
        return new SourceLimits(eosIds, padId, config.vocabSize(), config.maxPositions());
    }
}
