package dev.stepwise.cli;

import dev.stepwise.bench.BenchOptions;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** bench's measured run: the random prompts, the greedy tokens per row, the rounds, the threads and the precision. */
final class BenchRunFlags {
    @Option(names = "--batch-size", defaultValue = "1", paramLabel = "N", description = "Prompts decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--prompt-length", defaultValue = "32", paramLabel = "N", description = "Tokens per random prompt (default: ${DEFAULT-VALUE}).")
    int promptLength;

    @Option(names = "--new-tokens", defaultValue = "32", paramLabel = "N",
            description = "Greedy tokens per row: one from prefill, the rest from decode steps (default: ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Seed of the random prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "K",
            description = "Unmeasured rounds first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "R",
            description = "Measured rounds, each one greedy decode per engine and a few floor reads (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Intra-op threads for both engines and the floor (default: every core).")
    int threads;

    @Option(names = "--dtype", defaultValue = "fp32",
            description = "Precision of the benchmarked export: fp32 (default) or fp16 (the PyTorch engine runs fp32).")
    String dtype;

    /** The run the flags ask for; a bad value is a usage error. */
    BenchOptions options(CommandLine cli) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        return Usage.parsed(cli, "", () -> new BenchOptions(batchSize, promptLength, newTokens, n, warmup, runs, seed,
                Usage.graphDtype(cli, dtype)));
    }
}
