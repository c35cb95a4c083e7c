package dev.stepwise.cli;

import picocli.CommandLine.Option;

/** The static shape of the step graphs that unroll and simplify write: B rows, a prompt of L tokens, N new tokens. */
final class StepGraphShape {
    @Option(names = "--batch-size", required = true, paramLabel = "B")
    int batch;

    @Option(names = "--sequence-length", required = true, paramLabel = "L", description = "Prompt length L of gen step 0.")
    int sequence;

    @Option(names = "--max-new-tokens", required = true, paramLabel = "N",
            description = "New tokens, one step graph each: gen steps 0 (prefill) .. N-1.")
    int maxNewTokens;
}
