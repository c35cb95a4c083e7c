package dev.stepwise.cli;

import picocli.CommandLine.Option;

/** {@code --threads} of the commands whose only threaded work is ONNX Runtime's (generate, pipeline, quantize's gate, simplify's check). */
final class OrtThreadsOption {
    // "<threads>", not the field name's "<count>": the label these commands' help has always shown
    @Option(names = "--threads", defaultValue = "0", paramLabel = "<threads>",
            description = "ONNX Runtime intra-op threads (default: all cores).")
    int count;
}
