package dev.stepwise.runtime.pipeline;

/**
 * One fill-mask candidate, as transformers' pipeline reports it: probability, token id, the token's text and the
 * input with the mask replaced by it.
 */
public record MaskPrediction(double score, long token, String tokenStr, String sequence) {
}
