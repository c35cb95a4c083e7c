package dev.stepwise.bench;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import java.util.List;

/** The shape of one past key/value tensor, read from the architecture's declared cache axes. */
final class CacheShape {
    private CacheShape() {
    }

    static long[] of(CacheDecl cache, ModelConfig config, int batch, int length) {
        List<String> axes = cache.axes();
        long[] shape = new long[axes.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = switch (axes.get(i)) {
                case "batch_size" -> batch;
                case CacheDecl.PAST_SEQUENCE -> length;
                case "num_key_value_heads" -> config.numKeyValueHeads();
                case "num_attention_heads" -> config.numAttentionHeads();
                case "head_dim" -> config.headDim();
                case "hidden_size" -> config.hiddenSize();
                default -> throw new StepwiseException("cache axis '" + axes.get(i) + "' is not supported by the benchmark");
            };
        }
        return shape;
    }
}
