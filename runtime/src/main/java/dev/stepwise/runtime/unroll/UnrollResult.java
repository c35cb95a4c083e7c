package dev.stepwise.runtime.unroll;

import java.nio.file.Path;
import java.util.List;

/** What an unroll wrote. */
public record UnrollResult(Path outputDir, List<GenStep> steps, UnrollReport report) {
}
