package dev.stepwise.bench;

import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The weight bytes one decode step must read, for a floor: every initializer, except tables that only Gather nodes
 * read (an embedding left in float next to an int4 head is looked up one row per token, not read whole).
 */
final class DecodeStepBytes {
    private DecodeStepBytes() {
    }

    static long of(Path modelFile) {
        OnnxModelReader model = OnnxModelReader.load(modelFile);
        Map<String, Boolean> onlyGathered = new HashMap<>();
        Set<String> initializers = new HashSet<>();
        model.initializers().forEach(t -> initializers.add(t.getName()));
        for (NodeProto n : model.model().getGraph().getNodeList()) {
            for (int i = 0; i < n.getInputCount(); i++) {
                String in = n.getInput(i);
                if (initializers.contains(in)) {
                    boolean gathered = i == 0 && (n.getOpType().equals("Gather") || n.getOpType().equals("GatherBlockQuantized"));
                    onlyGathered.merge(in, gathered, Boolean::logicalAnd);
                }
            }
        }
        long bytes = 0;
        for (TensorProto t : model.initializers()) {
            if (!onlyGathered.getOrDefault(t.getName(), false)) {
                bytes += model.byteLength(t);
            }
        }
        return bytes;
    }

    /**
     * The float32 key and value cache of {@code batch} rows at {@code past} positions: what a decode step at that past
     * reads besides the weights (and what a prefill of {@code past} tokens writes).
     */
    static long kvCache(ModelConfig config, int batch, int past) {
        return 2L * config.numLayers() * config.numKeyValueHeads() * config.headDim() * Float.BYTES * batch * past;
    }
}
