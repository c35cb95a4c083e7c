package dev.stepwise.models;

import dev.stepwise.runtime.model.ModelConfig;

/** What the encoder classes share: the checkpoint's class name. */
final class EncoderConfigs {
    private EncoderConfigs() {
    }

    /** {@code architectures[0]} of config.json, or "" (the base model) when absent. */
    static String architecture(ModelConfig config) {
        var a = config.json().get("architectures");
        return a != null && a.isJsonArray() && !a.getAsJsonArray().isEmpty()
                && a.getAsJsonArray().get(0).isJsonPrimitive() ? a.getAsJsonArray().get(0).getAsString() : "";
    }
}
