package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** pipeline's input texts: given on the command line, read from a file, or both (the given ones first). */
final class PipelineInputs {
    @Option(names = "--input", arity = "1..*", paramLabel = "TEXT", description = "Input texts.")
    List<String> inputs = new ArrayList<>();

    @Option(names = "--input-file", paramLabel = "FILE", description = "A file of input texts, one per line (blank lines skipped).")
    Path inputFile;

    /** Every input text; none at all is a usage error. */
    List<String> texts(CommandLine cli) {
        List<String> texts = new ArrayList<>(inputs);
        if (inputFile != null) {
            try {
                for (String line : Files.readAllLines(inputFile, StandardCharsets.UTF_8)) {
                    if (!line.isBlank()) {
                        texts.add(line);
                    }
                }
            } catch (IOException e) {
                throw new StepwiseException(inputFile + ": cannot read: " + e.getMessage(), e);
            }
        }
        if (texts.isEmpty()) {
            throw new CommandLine.ParameterException(cli, "no input: give --input TEXT... or --input-file FILE");
        }
        return texts;
    }
}
