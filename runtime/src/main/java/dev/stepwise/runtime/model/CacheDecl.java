package dev.stepwise.runtime.model;

import dev.stepwise.annotations.DType;
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
}
