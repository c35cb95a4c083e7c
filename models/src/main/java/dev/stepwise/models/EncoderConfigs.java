package dev.stepwise.models;

import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import java.util.List;

/** Small helpers the encoder classes share: the checkpoint's class name and the shapes of common layers. */
final class EncoderConfigs {
    private EncoderConfigs() {
    }

    /** {@code architectures[0]} of config.json, or "" (the base model) when absent. */
    static String architecture(ModelConfig config) {
        var a = config.json().get("architectures");
        return a != null && a.isJsonArray() && !a.getAsJsonArray().isEmpty()
                && a.getAsJsonArray().get(0).isJsonPrimitive() ? a.getAsJsonArray().get(0).getAsString() : "";
    }

    /** {@code nn.Linear(in, out)}: weight {@code [out, in]} and bias {@code [out]}. */
    static void linear(List<WeightSpec> w, String name, long out, long in) {
        w.add(WeightSpec.required(name + ".weight", out, in));
        w.add(WeightSpec.required(name + ".bias", out));
    }

    static void layerNorm(List<WeightSpec> w, String name, long size) {
        w.add(WeightSpec.required(name + ".weight", size));
        w.add(WeightSpec.required(name + ".bias", size));
    }
}
