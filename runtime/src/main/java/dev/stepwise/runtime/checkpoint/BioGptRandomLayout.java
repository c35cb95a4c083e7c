package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.LayoutTensors.INIT_STD;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLayerNorm;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLinear;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.preset;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * BioGPT in transformers' layout ({@code BioGptForCausalLM}, names under {@code biogpt.}): {@code nn.Linear} weights
 * {@code [out, in]} with biases, positions table of {@code max_position_embeddings + 2} rows, final
 * {@code biogpt.layer_norm}, {@code output_projection} tied to {@code embed_tokens} (so not in the file).
 */
public final class BioGptRandomLayout implements RandomLayout {
    private record Preset(int vocabSize, int hidden, int intermediate, int layers, int heads, int positions) {
    }

    private static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("tiny", new Preset(1000, 64, 256, 2, 4, 128));
        // microsoft/biogpt: 347M parameters.
        PRESETS.put("biogpt", new Preset(42384, 1024, 4096, 24, 16, 1024));
    }

    /** BioGPT's special ids: bos {@code <s>} = 0, pad = 1, eos {@code </s>} = 2. */
    private static final int BOS = 0;
    private static final int PAD = 1;
    private static final int EOS = 2;

    @Override
    public String arch() {
        return "biogpt";
    }

    @Override
    public List<String> presets() {
        return List.copyOf(PRESETS.keySet());
    }

    @Override
    public JsonObject config(String preset) {
        Preset p = preset(PRESETS, arch(), preset);
        // The keys BioGptConfig.save_pretrained writes, sorted.
        JsonObject c = new JsonObject();
        c.addProperty("activation_dropout", 0.0);
        JsonArray architectures = new JsonArray();
        architectures.add("BioGptForCausalLM");
        c.add("architectures", architectures);
        c.addProperty("attention_probs_dropout_prob", 0.1);
        c.addProperty("bos_token_id", BOS);
        c.addProperty("eos_token_id", EOS);
        c.addProperty("hidden_act", "gelu");
        c.addProperty("hidden_dropout_prob", 0.1);
        c.addProperty("hidden_size", p.hidden());
        c.addProperty("initializer_range", INIT_STD);
        c.addProperty("intermediate_size", p.intermediate());
        c.addProperty("layer_norm_eps", new BigDecimal("1e-12"));
        c.addProperty("layerdrop", 0.0);
        c.addProperty("max_position_embeddings", p.positions());
        c.addProperty("model_type", "biogpt");
        c.addProperty("num_attention_heads", p.heads());
        c.addProperty("num_hidden_layers", p.layers());
        c.addProperty("pad_token_id", PAD);
        c.addProperty("scale_embedding", true);
        c.addProperty("torch_dtype", "float32");
        c.addProperty("use_cache", true);
        c.addProperty("vocab_size", p.vocabSize());
        return c;
    }

    @Override
    public List<RandomTensor> tensors(JsonObject config) {
        long v = config.get("vocab_size").getAsLong();
        long e = config.get("hidden_size").getAsLong();
        long inner = config.get("intermediate_size").getAsLong();
        long positions = config.get("max_position_embeddings").getAsLong() + 2;
        int layers = config.get("num_hidden_layers").getAsInt();

        String p = "biogpt.";
        List<RandomTensor> t = new ArrayList<>();
        t.add(RandomTensor.normal(p + "embed_tokens.weight", INIT_STD, v, e));
        t.add(RandomTensor.normal(p + "embed_positions.weight", INIT_STD, positions, e));
        for (int i = 0; i < layers; i++) {
            String h = p + "layers." + i + ".";
            addLinear(t, h + "self_attn.k_proj", e, e);
            addLinear(t, h + "self_attn.v_proj", e, e);
            addLinear(t, h + "self_attn.q_proj", e, e);
            addLinear(t, h + "self_attn.out_proj", e, e);
            addLayerNorm(t, h + "self_attn_layer_norm", e);
            addLinear(t, h + "fc1", e, inner);
            addLinear(t, h + "fc2", inner, e);
            addLayerNorm(t, h + "final_layer_norm", e);
        }
        addLayerNorm(t, p + "layer_norm", e);
        return t;
    }
}
