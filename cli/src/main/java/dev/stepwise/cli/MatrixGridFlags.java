package dev.stepwise.cli;

import dev.stepwise.bench.MatrixGrid;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code bench --matrix}'s grid: which exports, precisions, batches, past lengths and prefills it times. */
final class MatrixGridFlags {
    @Option(names = "--variants", defaultValue = "plain,ort,ort-kv", paramLabel = "plain,ort,ort-kv",
            description = "With --matrix: exports to time (ort = --optimize ort; ort-kv = --optimize ort --max-length"
                    + " of the longest cell, an in-place cache; a variant an architecture cannot"
                    + " take is skipped with the reason) (default: ${DEFAULT-VALUE}).")
    String variants;

    @Option(names = "--precisions", defaultValue = "fp32,int8,int4", paramLabel = "fp32,int8,int4",
            description = "With --matrix: each variant as exported and quantized (no gate) (default: ${DEFAULT-VALUE}).")
    String precisions;

    @Option(names = "--batches", defaultValue = "1,8", paramLabel = "N,...",
            description = "With --matrix: batch sizes (default: ${DEFAULT-VALUE}).")
    String batches;

    @Option(names = "--pasts", defaultValue = "32,512,2048", paramLabel = "P,...",
            description = "With --matrix: past lengths a decode step is timed at, after a prefill of that many tokens"
                    + " (default: ${DEFAULT-VALUE}).")
    String pasts;

    @Option(names = "--prefills", defaultValue = "128,1024", paramLabel = "N,...",
            description = "With --matrix: prompt lengths a prefill is timed at (default: ${DEFAULT-VALUE}).")
    String prefills;

    @Option(names = "--decode-steps", defaultValue = "4", paramLabel = "N",
            description = "With --matrix: timed decode steps per round of a decode cell (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    /** The grid the flags name; a bad value is a usage error. */
    MatrixGrid grid(CommandLine cli) {
        return Usage.parsed(cli, "", () -> new MatrixGrid(MatrixGrid.names(variants), MatrixGrid.names(precisions),
                MatrixGrid.ints("--batches", batches), MatrixGrid.ints("--pasts", pasts),
                MatrixGrid.ints("--prefills", prefills), decodeSteps));
    }
}
