package dev.stepwise.runtime.unroll;

import java.nio.file.Path;
import java.util.List;

/**
 * What an unroll wrote ({@link dev.stepwise.runtime.Stepwise#unroll}).
 *
 * @param outputDir the output folder, in place
 * @param steps     the step graphs written, in order, each with its fixed shapes and file name
 * @param report    node counts, file sizes and the chained check (also in {@code unroll-report.json})
 */
public record UnrollResult(Path outputDir, List<GenStep> steps, UnrollReport report) {
}
