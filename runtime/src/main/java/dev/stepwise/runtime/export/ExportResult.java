package dev.stepwise.runtime.export;

import java.nio.file.Path;
import java.util.List;

/**
 * What an export wrote and how validation went (empty list when validation was skipped); {@code triton} is the Triton
 * repository written beside it, or null when none was asked for.
 */
public record ExportResult(Path outputDir, Path modelFile, long weightBytes, boolean externalData, double seconds,
                           List<ValidationCase> validation, TritonRepository.Layout triton) {
}
