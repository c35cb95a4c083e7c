package dev.stepwise.runtime.checkpoint;

import static dev.stepwise.runtime.checkpoint.LayoutTensors.INIT_STD;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLayerNorm;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.addLinear;
import static dev.stepwise.runtime.checkpoint.LayoutTensors.preset;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * OPT in transformers' layout ({@code OPTForCausalLM}, names under {@code model.decoder.}): {@code nn.Linear} weights
 * {@code [out, in]}, positions table of {@code max_position_embeddings + 2} rows, {@code project_in}/{@code project_out}
 * when {@code word_embed_proj_dim} differs from {@code hidden_size}, final LayerNorm only for pre-LN models, LM head
 * tied to {@code embed_tokens} (so no {@code lm_head.weight} in the file).
 */
public final class OptRandomLayout implements RandomLayout {
    private record Preset(int vocabSize, int hidden, int wordEmbedDim, int ffn, int layers, int heads, int positions,
                          boolean layerNormBefore) {
    }

    private static final Map<String, Preset> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("tiny", new Preset(1000, 64, 64, 256, 2, 4, 128, true));
        // opt-350m's shape of model in miniature: post-LayerNorm blocks, embeddings narrower than the hidden state.
        PRESETS.put("tiny-350m-style", new Preset(1000, 64, 32, 256, 2, 4, 128, false));
        PRESETS.put("opt-125m", new Preset(50272, 768, 768, 3072, 12, 12, 2048, true));
    }

    /** OPT's special ids, the same in every size: bos = eos = 2 ({@code </s>}), pad = 1. */
    private static final int BOS_EOS = 2;
    private static final int PAD = 1;

    @Override
    public String arch() {
        return "opt";
    }

    @Override
    public List<String> presets() {
        return List.copyOf(PRESETS.keySet());
    }

    @Override
    public JsonObject config(String preset) {
        Preset p = preset(PRESETS, arch(), preset);
        // The keys OPTConfig.save_pretrained writes, sorted.
        JsonObject c = new JsonObject();
        c.addProperty("_remove_final_layer_norm", false);
        c.addProperty("activation_dropout", 0.0);
        c.addProperty("activation_function", "relu");
        JsonArray architectures = new JsonArray();
        architectures.add("OPTForCausalLM");
        c.add("architectures", architectures);
        c.addProperty("attention_dropout", 0.0);
        c.addProperty("bos_token_id", BOS_EOS);
        c.addProperty("do_layer_norm_before", p.layerNormBefore());
        c.addProperty("dropout", 0.1);
        c.addProperty("enable_bias", true);
        c.addProperty("eos_token_id", BOS_EOS);
        c.addProperty("ffn_dim", p.ffn());
        c.addProperty("hidden_size", p.hidden());
        c.addProperty("init_std", INIT_STD);
        c.addProperty("layer_norm_elementwise_affine", true);
        c.addProperty("layerdrop", 0.0);
        c.addProperty("max_position_embeddings", p.positions());
        c.addProperty("model_type", "opt");
        c.addProperty("num_attention_heads", p.heads());
        c.addProperty("num_hidden_layers", p.layers());
        c.addProperty("pad_token_id", PAD);
        c.addProperty("prefix", "</s>");
        c.addProperty("torch_dtype", "float32");
        c.addProperty("use_cache", true);
        c.addProperty("vocab_size", p.vocabSize());
        c.addProperty("word_embed_proj_dim", p.wordEmbedDim());
        return c;
    }

    @Override
    public List<RandomTensor> tensors(JsonObject config) {
        long v = config.get("vocab_size").getAsLong();
        long e = config.get("hidden_size").getAsLong();
        long word = config.get("word_embed_proj_dim").getAsLong();
        long ffn = config.get("ffn_dim").getAsLong();
        long positions = config.get("max_position_embeddings").getAsLong() + 2;
        int layers = config.get("num_hidden_layers").getAsInt();
        boolean before = config.get("do_layer_norm_before").getAsBoolean();
        boolean removeFinal = config.get("_remove_final_layer_norm").getAsBoolean();

        String p = "model.decoder.";
        List<RandomTensor> t = new ArrayList<>();
        t.add(RandomTensor.normal(p + "embed_tokens.weight", INIT_STD, v, word));
        t.add(RandomTensor.normal(p + "embed_positions.weight", INIT_STD, positions, e));
        if (before && !removeFinal) {
            addLayerNorm(t, p + "final_layer_norm", e);
        }
        if (word != e) {
            // Variance-preserving (1/sqrt(fan_in)) rather than the init std: two extra 0.02-std products would shrink
            // the logits of the small presets to where a validation tolerance no longer tells a bug from rounding.
            t.add(RandomTensor.normal(p + "project_out.weight", 1 / Math.sqrt(e), word, e));
            t.add(RandomTensor.normal(p + "project_in.weight", 1 / Math.sqrt(word), e, word));
        }
        for (int i = 0; i < layers; i++) {
            String h = p + "layers." + i + ".";
            addLinear(t, h + "self_attn.k_proj", e, e);
            addLinear(t, h + "self_attn.v_proj", e, e);
            addLinear(t, h + "self_attn.q_proj", e, e);
            addLinear(t, h + "self_attn.out_proj", e, e);
            addLayerNorm(t, h + "self_attn_layer_norm", e);
            addLinear(t, h + "fc1", e, ffn);
            addLinear(t, h + "fc2", ffn, e);
            addLayerNorm(t, h + "final_layer_norm", e);
        }
        return t;
    }
}
