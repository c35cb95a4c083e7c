package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.LayoutTensors.INIT_STD;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addConv1D;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLayerNorm;
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
 * GPT-2 in transformers' layout ({@code GPT2LMHeadModel}): Conv1D weights stored {@code [in, out]}, fused q/k/v in
 * {@code c_attn}, LM head tied to {@code wte} (so no {@code lm_head.weight} in the file).
 */
public final class Gpt2RandomLayout implements RandomLayout {
    private record Preset(int vocabSize, int embd, int layers, int heads, int positions, int bosEos) {
    }

    private static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        // tiny: special ids at the top of its small vocabulary, as GPT-2's 50256 is at the top of its own.
        PRESETS.put("tiny", new Preset(1000, 64, 2, 4, 128, 999));
        PRESETS.put("gpt2", new Preset(50257, 768, 12, 12, 1024, 50256));
    }

    @Override
    public String arch() {
        return "gpt2";
    }

    @Override
    public List<String> presets() {
        return List.copyOf(PRESETS.keySet());
    }

    @Override
    public JsonObject config(String preset) {
        Preset p = preset(PRESETS, arch(), preset);
        // The keys GPT2Config.save_pretrained writes (sorted, as transformers sorts them).
        JsonObject c = new JsonObject();
        c.addProperty("activation_function", "gelu_new");
        JsonArray architectures = new JsonArray();
        architectures.add("GPT2LMHeadModel");
        c.add("architectures", architectures);
        c.addProperty("attn_pdrop", 0.1);
        c.addProperty("bos_token_id", p.bosEos());
        c.addProperty("embd_pdrop", 0.1);
        c.addProperty("eos_token_id", p.bosEos());
        c.addProperty("initializer_range", INIT_STD);
        c.addProperty("layer_norm_epsilon", new BigDecimal("0.00001")); // BigDecimal keeps "1.0E-5" out of the file
        c.addProperty("model_type", "gpt2");
        c.addProperty("n_ctx", p.positions());
        c.addProperty("n_embd", p.embd());
        c.addProperty("n_head", p.heads());
        c.add("n_inner", JsonNull.INSTANCE);
        c.addProperty("n_layer", p.layers());
        c.addProperty("n_positions", p.positions());
        c.addProperty("reorder_and_upcast_attn", false);
        c.addProperty("resid_pdrop", 0.1);
        c.addProperty("scale_attn_by_inverse_layer_idx", false);
        c.addProperty("scale_attn_weights", true);
        c.add("summary_activation", JsonNull.INSTANCE);
        c.addProperty("summary_first_dropout", 0.1);
        c.addProperty("summary_proj_to_labels", true);
        c.addProperty("summary_type", "cls_index");
        c.addProperty("summary_use_proj", true);
        c.addProperty("tie_word_embeddings", true);
        c.addProperty("torch_dtype", "float32");
        c.addProperty("use_cache", true);
        c.addProperty("vocab_size", p.vocabSize());
        return c;
    }

    @Override
    public List<RandomTensor> tensors(JsonObject config) {
        long v = config.get("vocab_size").getAsLong();
        long e = config.get("n_embd").getAsLong();
        long positions = config.get("n_positions").getAsLong();
        int layers = config.get("n_layer").getAsInt();
        JsonElement nInner = config.get("n_inner");
        long inner = nInner == null || nInner.isJsonNull() ? 4 * e : nInner.getAsLong();

        List<RandomTensor> t = new ArrayList<>();
        t.add(RandomTensor.normal("transformer.wte.weight", INIT_STD, v, e));
        t.add(RandomTensor.normal("transformer.wpe.weight", INIT_STD, positions, e));
        for (int i = 0; i < layers; i++) {
            String h = "transformer.h." + i + ".";
            addLayerNorm(t, h + "ln_1", e);
            addConv1D(t, h + "attn.c_attn", e, 3 * e);
            addConv1D(t, h + "attn.c_proj", e, e);
            addLayerNorm(t, h + "ln_2", e);
            addConv1D(t, h + "mlp.c_fc", e, inner);
            addConv1D(t, h + "mlp.c_proj", inner, e);
        }
        addLayerNorm(t, "transformer.ln_f", e);
        return t;
    }
}
