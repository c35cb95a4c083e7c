package dev.stepwise.runtime.export;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolves declared axis names to graph dims. Config-derived axes (vocab_size, head_dim, ...) are always numbers.
 * Batch and sequence axes stay symbolic ({@code dim_param}) for the dynamic decoder, or become the numbers of a
 * fixed-shape graph.
 */
public record AxisSizes(Long batch, Long sequence, Long past) {

    /** The dynamic decoder: batch and sequence axes are symbols. */
    public static AxisSizes dynamic() {
        return new AxisSizes(null, null, null);
    }

    public static AxisSizes fixed(long batch, long sequence, long past) {
        return new AxisSizes(batch, sequence, past);
    }

    public boolean isDynamic() {
        return batch == null;
    }

    /** A dim for a graph input/output declaration: a String (dim_param) or a Long. */
    public Object resolve(String axis, ModelConfig config) {
        return switch (axis) {
            case "batch_size" -> batch != null ? (Object) batch : axis;
            case "sequence_length" -> sequence != null ? (Object) sequence : axis;
            case CacheDecl.PAST_SEQUENCE -> past != null ? (Object) past : axis;
            case CacheDecl.TOTAL_SEQUENCE -> past != null ? (Object) (past + sequence) : axis;
            case "vocab_size" -> (long) config.vocabSize();
            case "hidden_size" -> (long) config.hiddenSize();
            case "num_attention_heads" -> (long) config.numAttentionHeads();
            case "num_key_value_heads" -> (long) config.numKeyValueHeads();
            case "head_dim" -> (long) config.headDim();
            case "num_labels" -> (long) config.numLabels();
            default -> throw new StepwiseException("unknown axis '" + axis + "'");
        };
    }

    public List<Object> resolveAll(List<String> axes, ModelConfig config) {
        List<Object> dims = new ArrayList<>();
        for (String a : axes) {
            dims.add(resolve(a, config));
        }
        return dims;
    }
}
