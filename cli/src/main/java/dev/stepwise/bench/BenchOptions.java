package dev.stepwise.bench;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;

/**
 * What to measure: {@code batchSize} random prompts of {@code promptLength} tokens, {@code newTokens} greedy tokens
 * each (the first from prefill, the rest from decode steps), on {@code threads} intra-op threads for both engines.
 * {@code warmup} unmeasured rounds come first, then {@code runs} measured ones; a round is one greedy decode per
 * engine and a few reads of the bandwidth floor. The prompts come from {@code seed}. {@code dtype} is the exported
 * graph's precision ({@code FLOAT} or {@code FLOAT16}); the PyTorch engine always runs float32.
 */
public record BenchOptions(int batchSize, int promptLength, int newTokens, int threads, int warmup, int runs,
                           long seed, DType dtype) {

    public BenchOptions(int batchSize, int promptLength, int newTokens, int threads, int warmup, int runs, long seed) {
        this(batchSize, promptLength, newTokens, threads, warmup, runs, seed, DType.FLOAT);
    }

    public BenchOptions {
        positive("batch size", batchSize);
        positive("prompt length", promptLength);
        if (newTokens < 2) {
            throw new StepwiseException("new tokens must be at least 2 (one from prefill, one decode step), got " + newTokens);
        }
        positive("threads", threads);
        if (warmup < 0) {
            throw new StepwiseException("warmup must be 0 or more, got " + warmup);
        }
        positive("runs", runs);
        if (dtype != DType.FLOAT && dtype != DType.FLOAT16) {
            throw new StepwiseException("the benchmarked graph is fp32 or fp16, not " + dtype);
        }
    }

    /** The defaults: batch 1, 32-token prompt, 32 new tokens, every core, one warm-up and three measured rounds. */
    public static BenchOptions defaults() {
        return new BenchOptions(1, 32, 32, Runtime.getRuntime().availableProcessors(), 1, 3, 42);
    }

    /** Decode steps in one run: the first token comes from prefill. */
    public int decodeSteps() {
        return newTokens - 1;
    }

    private static void positive(String what, int value) {
        if (value < 1) {
            throw new StepwiseException(what + " must be at least 1, got " + value);
        }
    }
}
