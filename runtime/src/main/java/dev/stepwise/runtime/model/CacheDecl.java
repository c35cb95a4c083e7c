package dev.stepwise.runtime.model;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import java.util.List;

/** Runtime form of {@code @KeyValueCache}: name patterns with {@code {layer}} and {@code {kind}}, and the past layout. */
public record CacheDecl(String pastPattern, String presentPattern, DType type, List<String> axes) {
    public static final String PAST_SEQUENCE = "past_sequence_length";
    public static final String TOTAL_SEQUENCE = "past_sequence_length + sequence_length";

    public CacheDecl {
        axes = List.copyOf(axes);
    }

    public String pastName(int layer, String kind) {
        return pastPattern.replace("{layer}", Integer.toString(layer)).replace("{kind}", kind);
    }

    public String presentName(int layer, String kind) {
        return presentPattern.replace("{layer}", Integer.toString(layer)).replace("{kind}", kind);
    }

    /** Present layout: the past layout with the total sequence in place of the past sequence. */
    public List<String> presentAxes() {
        return axes.stream().map(a -> a.equals(PAST_SEQUENCE) ? TOTAL_SEQUENCE : a).toList();
    }

    /**
     * The shape of one past tensor of {@code batch} rows and {@code past} cached positions, from the declared axes:
     * the one place a decoding run (any engine) or a check sizes the cache it starts with.
     */
    public long[] shape(ModelConfig config, int batch, int past) {
        long[] shape = new long[axes.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = switch (axes.get(i)) {
                case "batch_size" -> batch;
                case PAST_SEQUENCE -> past;
                case "num_key_value_heads" -> config.numKeyValueHeads();
                case "num_attention_heads" -> config.numAttentionHeads();
                case "head_dim" -> config.headDim();
                case "hidden_size" -> config.hiddenSize();
                default -> throw new StepwiseException("cache axis '" + axes.get(i) + "' has no size for a decoding run");
            };
        }
        return shape;
    }
}
