package dev.stepwise.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --output DIR} of the commands that write one folder and replace it only on success (export, quantize, simplify). */
final class OutputFolderOption {
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder to write (replaced on success).")
    Path dir;
}
