package dev.stepwise.runtime.model;

/**
 * Runtime form of {@code @ConfigKeys}: the {@code config.json} key of each normalized value; empty when the
 * architecture has none (then the value is derived or absent).
 */
public record ConfigKeyMap(String numLayers, String numAttentionHeads, String numKeyValueHeads, String hiddenSize,
                           String vocabSize, String maxPositions, String eosTokenId, String bosTokenId,
                           String padTokenId) {
}
