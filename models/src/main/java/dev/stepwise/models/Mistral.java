package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Mistral checkpoints ({@code MistralForCausalLM}): LLaMA's layout and forward ({@link LlamaFamily}) with
 * {@code sliding_window}: when set, each query sees only the last {@code sliding_window} positions, itself included,
 * across the KV cache as well. The cache keeps every position (as transformers' dynamic cache does); only the mask
 * changes.
 */
@OnnxConfig(modelType = "mistral", config = @ConfigKeys(numKeyValueHeads = "num_key_value_heads"))
public final class Mistral extends LlamaFamily {

    @Override
    int slidingWindow(ModelConfig config) {
        return config.getInt("sliding_window", 0);
    }

    /** {@code tiny} (GQA, sliding_window 8) and {@code mistral-7b} (Mistral-7B-v0.1's shapes). */
    @Override
    public Map<String, JsonObject> randomPresets() {
        Map<String, JsonObject> p = new LinkedHashMap<>();
        p.put("tiny", config("mistral", "MistralForCausalLM",
                new Preset(1000, 64, 176, 2, 4, 2, 16, 512, 10000, "1e-5", null, false, false, false, 1, 2, 8)));
        p.put("mistral-7b", config("mistral", "MistralForCausalLM", new Preset(32000, 4096, 14336, 32, 32, 8, 128,
                32768, 10000, "1e-5", null, false, false, false, 1, 2, 4096)));
        return p;
    }
}
