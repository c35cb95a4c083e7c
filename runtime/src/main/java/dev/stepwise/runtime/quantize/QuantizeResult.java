package dev.stepwise.runtime.quantize;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A finished quantization: the output folder, its model files, bytes of model and weights files before and after,
 * quantized nodes by kind, and the gate's figures per file.
 */
public record QuantizeResult(Path outputDir, List<Path> models, long bytesBefore, long bytesAfter,
                             Map<String, Integer> quantizedNodes, List<QualityFigures> quality, double seconds) {
}
