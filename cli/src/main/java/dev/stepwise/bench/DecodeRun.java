package dev.stepwise.bench;

/**
 * One measured greedy decode: the generated ids per row, the prefill time, and each decode step's time. A step's
 * time covers everything the caller waits for: building the inputs, the forward, and the argmax of the last position.
 */
public record DecodeRun(long[][] tokens, long prefillNanos, long[] decodeNanos) {
}
