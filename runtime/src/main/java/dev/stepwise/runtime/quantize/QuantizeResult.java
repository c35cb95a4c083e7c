package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A finished quantization ({@link dev.stepwise.runtime.Stepwise#quantize}).
 *
 * @param outputDir      the output folder, in place
 * @param models         the quantized model files in it
 * @param bytesBefore    bytes of the input's model and weights files
 * @param bytesAfter     bytes of the output's model and weights files
 * @param quantizedNodes per kind of float node quantized ({@code MatMul}, {@code Gemm}, {@code MatMul(Transpose)},
 *                       {@code Gather}), how many, over all files
 * @param quality        the gate's figures per file; empty when the gate was off
 * @param seconds        wall-clock time, gate included
 */
public record QuantizeResult(Path outputDir, List<Path> models, long bytesBefore, long bytesAfter,
                             Map<String, Integer> quantizedNodes, List<QualityFigures> quality, double seconds) {
}
