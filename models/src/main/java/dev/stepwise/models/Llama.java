package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LLaMA, as transformers' {@code LlamaForCausalLM} computes it (see {@link LlamaFamily} for the forward): RMSNorm,
 * rotary embeddings with {@code rope_scaling} linear / dynamic / llama3, grouped-query attention whose cache holds the
 * key/value heads only, SwiGLU MLP, optional {@code attention_bias} / {@code mlp_bias}, optionally tied LM head.
 */
@OnnxConfig(modelType = "llama", config = @ConfigKeys(numKeyValueHeads = "num_key_value_heads"))
public final class Llama extends LlamaFamily {

    /** LLaMA attends to the whole causal past. */
    @Override
    int slidingWindow(ModelConfig config) {
        return 0;
    }

    /**
     * {@code tiny} (4 heads, 4 KV heads), {@code tiny-gqa} (8 heads sharing 2 KV heads), {@code tiny-tied-bias}
     * (head_dim 32 ≠ hidden / heads, attention and MLP biases, tied embeddings), the {@code rope_scaling} presets
     * {@code tiny-linear}, {@code tiny-dynamic} (max_position_embeddings 32, so dynamic scaling starts early) and
     * {@code tiny-llama3} (its three frequency bands all populated), {@code tiny-vocab128k} (Llama 3's 128256-token
     * vocabulary on the tiny body, 2048 positions), two real sizes, {@code tinyllama} (TinyLlama-1.1B's shapes) and
     * {@code llama-3.2-1b} (llama3 rope scaling, tied embeddings), and {@code big-embedding}.
     */
    @Override
    public Map<String, JsonObject> randomPresets() {
        Map<String, Preset> p = new LinkedHashMap<>();
        p.put("tiny", new Preset(1000, 64, 176, 2, 4, 4, 16, 256, 10000, "1e-6", null, false, false, false, 1, 2, null));
        p.put("tiny-gqa", new Preset(1000, 64, 176, 2, 8, 2, 8, 256, 10000, "1e-6", null, false, false, false, 1, 2, null));
        p.put("tiny-tied-bias", new Preset(1000, 64, 176, 2, 4, 2, 32, 256, 10000, "1e-5", null, true, true, true, 1, 2,
                null));
        p.put("tiny-linear", new Preset(1000, 64, 176, 2, 4, 2, 16, 1024, 10000, "1e-6", scaling("linear", 4.0), false,
                false, false, 1, 2, null));
        // Older configs name the type "type"; this preset keeps that spelling so both are exercised.
        p.put("tiny-dynamic", new Preset(1000, 64, 176, 2, 4, 2, 16, 32, 10000, "1e-6",
                ConfigJson.of("factor", 2.0, "type", "dynamic"), false, false, false, 1, 2, null));
        p.put("tiny-llama3", new Preset(1000, 64, 176, 2, 4, 2, 16, 2048, 10000, "1e-5", llama3Scaling(8.0, 256),
                false, false, false, 1, 2, null));
        // Llama 3's vocabulary on a tiny body: the LM head dominates, as in long-prompt prefill memory figures.
        p.put("tiny-vocab128k", new Preset(128256, 64, 176, 2, 4, 4, 16, 2048, 500000, "1e-5", null, false, false,
                false, 128000, 128001, null));
        p.put("tinyllama", new Preset(32000, 2048, 5632, 22, 32, 4, 64, 2048, 10000, "1e-5", null, false, false, false,
                1, 2, null));
        p.put("llama-3.2-1b", new Preset(128256, 2048, 8192, 16, 32, 8, 64, 131072, 500000, "1e-5",
                llama3Scaling(32.0, 8192), true, false, false, 128000, 128001, null));
        // One tensor above 2 GiB in float32 (a tied 160000 x 4096 embedding, 2.6 GB), the rest kept small: the
        // shape of the largest tensors of 7B-70B models, to prove they are read, converted and written in chunks.
        p.put("big-embedding", new Preset(160000, 4096, 256, 1, 32, 1, 128, 2048, 10000, "1e-5", null, true, false,
                false, 1, 2, null));
        Map<String, JsonObject> configs = new LinkedHashMap<>();
        p.forEach((name, preset) -> configs.put(name, config("llama", "LlamaForCausalLM", preset)));
        return configs;
    }

    private static JsonObject scaling(String type, double factor) {
        return ConfigJson.of("factor", factor, "rope_type", type);
    }

    /** Frequency bands at factors 1 and 4, keys sorted, as transformers writes them. */
    private static JsonObject llama3Scaling(double factor, int originalMax) {
        return ConfigJson.of("factor", factor, "high_freq_factor", 4.0, "low_freq_factor", 1.0,
                "original_max_position_embeddings", originalMax, "rope_type", "llama3");
    }
}
