package dev.stepwise.runtime.export;

import java.nio.file.Path;
import java.util.List;

/**
 * What an export wrote and how validation went ({@link dev.stepwise.runtime.Stepwise#export}).
 *
 * @param outputDir    the export folder, in place
 * @param modelFile    the decoder graph in it, {@code model.onnx}
 * @param weightBytes  bytes of the weights written (in {@code model.onnx} or {@code model.onnx_data})
 * @param externalData whether the weights are in the data file {@code model.onnx_data} rather than in the graph file
 * @param seconds      wall-clock time of the whole export, validation included
 * @param validation   each validation case with its differences from the PyTorch reference; empty when validation
 *                     was off
 * @param triton       the Triton repository written beside the export, or null when none was asked for
 */
public record ExportResult(Path outputDir, Path modelFile, long weightBytes, boolean externalData, double seconds,
                           List<ValidationCase> validation, TritonRepository.Layout triton) {
}
