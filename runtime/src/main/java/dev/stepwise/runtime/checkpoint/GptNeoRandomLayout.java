package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.LayoutTensors.INIT_STD;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLayerNorm;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLinear;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.preset;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GPT-Neo in transformers' layout ({@code GPTNeoForCausalLM}): {@code nn.Linear} weights {@code [out, in]}, separate
 * q/k/v projections without bias under {@code attn.attention}, alternating global and local attention layers, LM head
 * tied to {@code wte} (so no {@code lm_head.weight} in the file).
 */
public final class GptNeoRandomLayout implements RandomLayout {
    private record Preset(int vocabSize, int hidden, int layers, int heads, int positions, int window, int bosEos) {
    }

    private static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        // tiny: a window of 4 slots, so local layers cut off context well inside short test prompts and caches.
        PRESETS.put("tiny", new Preset(1000, 64, 4, 4, 128, 4, 999));
        PRESETS.put("gpt-neo-125m", new Preset(50257, 768, 12, 12, 2048, 256, 50256));
    }

    @Override
    public String arch() {
        return "gpt_neo";
    }

    @Override
    public List<String> presets() {
        return List.copyOf(PRESETS.keySet());
    }

    @Override
    public JsonObject config(String preset) {
        Preset p = preset(PRESETS, arch(), preset);
        // The keys GPTNeoConfig.save_pretrained writes, sorted; attention_layers is attention_types expanded.
        JsonObject c = new JsonObject();
        c.addProperty("activation_function", "gelu_new");
        c.add("architectures", strings("GPTNeoForCausalLM"));
        c.addProperty("attention_dropout", 0);
        JsonArray layers = new JsonArray();
        for (int i = 0; i < p.layers(); i++) {
            layers.add(i % 2 == 0 ? "global" : "local");
        }
        c.add("attention_layers", layers);
        JsonArray types = new JsonArray();
        JsonArray pair = new JsonArray();
        pair.add(strings("global", "local"));
        pair.add(p.layers() / 2);
        types.add(pair);
        c.add("attention_types", types);
        c.addProperty("bos_token_id", p.bosEos());
        c.addProperty("embed_dropout", 0);
        c.addProperty("eos_token_id", p.bosEos());
        c.addProperty("hidden_size", p.hidden());
        c.addProperty("initializer_range", INIT_STD);
        c.add("intermediate_size", JsonNull.INSTANCE);
        c.addProperty("layer_norm_epsilon", new BigDecimal("0.00001"));
        c.addProperty("max_position_embeddings", p.positions());
        c.addProperty("model_type", "gpt_neo");
        c.addProperty("num_heads", p.heads());
        c.addProperty("num_layers", p.layers());
        c.addProperty("resid_dropout", 0);
        c.add("summary_activation", JsonNull.INSTANCE);
        c.addProperty("summary_first_dropout", 0.1);
        c.addProperty("summary_proj_to_labels", true);
        c.addProperty("summary_type", "cls_index");
        c.addProperty("summary_use_proj", true);
        c.addProperty("torch_dtype", "float32");
        c.addProperty("use_cache", true);
        c.addProperty("vocab_size", p.vocabSize());
        c.addProperty("window_size", p.window());
        return c;
    }

    @Override
    public List<RandomTensor> tensors(JsonObject config) {
        long v = config.get("vocab_size").getAsLong();
        long e = config.get("hidden_size").getAsLong();
        long positions = config.get("max_position_embeddings").getAsLong();
        int layers = config.get("num_layers").getAsInt();
        JsonElement intermediate = config.get("intermediate_size");
        long inner = intermediate == null || intermediate.isJsonNull() ? 4 * e : intermediate.getAsLong();

        List<RandomTensor> t = new ArrayList<>();
        t.add(RandomTensor.normal("transformer.wte.weight", INIT_STD, v, e));
        t.add(RandomTensor.normal("transformer.wpe.weight", INIT_STD, positions, e));
        for (int i = 0; i < layers; i++) {
            String h = "transformer.h." + i + ".";
            addLayerNorm(t, h + "ln_1", e);
            t.add(RandomTensor.normal(h + "attn.attention.k_proj.weight", INIT_STD, e, e));
            t.add(RandomTensor.normal(h + "attn.attention.v_proj.weight", INIT_STD, e, e));
            t.add(RandomTensor.normal(h + "attn.attention.q_proj.weight", INIT_STD, e, e));
            addLinear(t, h + "attn.attention.out_proj", e, e);
            addLayerNorm(t, h + "ln_2", e);
            addLinear(t, h + "mlp.c_fc", e, inner);
            addLinear(t, h + "mlp.c_proj", inner, e);
        }
        addLayerNorm(t, "transformer.ln_f", e);
        return t;
    }

    private static JsonArray strings(String... values) {
        JsonArray a = new JsonArray();
        for (String s : values) {
            a.add(s);
        }
        return a;
    }
}
