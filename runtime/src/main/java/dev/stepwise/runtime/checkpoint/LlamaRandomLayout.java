package dev.stepwise.runtime.checkpoint;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LLaMA in transformers' layout ({@code LlamaForCausalLM}), and Mistral ({@code MistralForCausalLM}), which shares it:
 * {@code nn.Linear} weights stored {@code [out, in]}, separate q/k/v projections with {@code num_key_value_heads}
 * heads for k and v, gate/up/down MLP, RMSNorm scales only, {@code lm_head.weight} unless the embeddings are tied.
 */
public final class LlamaRandomLayout implements RandomLayout {
    /**
     * One size. {@code headDim} is written as {@code head_dim}; {@code ropeScaling} may be null; {@code slidingWindow}
     * is Mistral's (null = full attention).
     */
    private record Preset(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim,
                          int maxPositions, double ropeTheta, String rmsNormEps, JsonObject ropeScaling, boolean tied,
                          boolean attentionBias, boolean mlpBias, long bos, long eos, Integer slidingWindow) {
    }

    /** transformers' {@code initializer_range}: the std of every weight matrix and embedding. */
    private static final double INIT_STD = 0.02;
    /** Spread of RMSNorm scales around 1, so tests notice a misplaced scale. */
    private static final double NORM_STD = 0.1;

    private final String arch;
    private final String architecture;
    private final Map<String, Preset> presets;

    private LlamaRandomLayout(String arch, String architecture, Map<String, Preset> presets) {
        this.arch = arch;
        this.architecture = architecture;
        this.presets = presets;
    }

    /**
     * {@code llama}: {@code tiny} (4 heads, 4 KV heads), {@code tiny-gqa} (8 heads sharing 2 KV heads),
     * {@code tiny-tied-bias} (head_dim 32 ≠ hidden / heads, attention and MLP biases, tied embeddings), the
     * {@code rope_scaling} presets {@code tiny-linear}, {@code tiny-dynamic} (max_position_embeddings 32, so dynamic
     * scaling starts early) and {@code tiny-llama3} (its three frequency bands all populated), {@code tiny-vocab128k} (Llama 3's 128256-token
     * vocabulary on the tiny body, 2048 positions), and two real sizes:
     * {@code tinyllama} (TinyLlama-1.1B's shapes) and {@code llama-3.2-1b} (llama3 rope scaling, tied embeddings).
     */
    public static LlamaRandomLayout llama() {
        Map<String, Preset> p = new LinkedHashMap<>();
        p.put("tiny", new Preset(1000, 64, 176, 2, 4, 4, 16, 256, 10000, "1e-6", null, false, false, false, 1, 2, null));
        p.put("tiny-gqa", new Preset(1000, 64, 176, 2, 8, 2, 8, 256, 10000, "1e-6", null, false, false, false, 1, 2, null));
        p.put("tiny-tied-bias", new Preset(1000, 64, 176, 2, 4, 2, 32, 256, 10000, "1e-5", null, true, true, true, 1, 2,
                null));
        p.put("tiny-linear", new Preset(1000, 64, 176, 2, 4, 2, 16, 1024, 10000, "1e-6", scaling("linear", 4.0), false,
                false, false, 1, 2, null));
        p.put("tiny-dynamic", new Preset(1000, 64, 176, 2, 4, 2, 16, 32, 10000, "1e-6", dynamicScaling(2.0), false,
                false, false, 1, 2, null));
        p.put("tiny-llama3", new Preset(1000, 64, 176, 2, 4, 2, 16, 2048, 10000, "1e-5", llama3Scaling(8.0, 1.0, 4.0, 256),
                false, false, false, 1, 2, null));
        // Llama 3's vocabulary on a tiny body: the LM head dominates, as in long-prompt prefill memory figures.
        p.put("tiny-vocab128k", new Preset(128256, 64, 176, 2, 4, 4, 16, 2048, 500000, "1e-5", null, false, false,
                false, 128000, 128001, null));
        p.put("tinyllama", new Preset(32000, 2048, 5632, 22, 32, 4, 64, 2048, 10000, "1e-5", null, false, false, false,
                1, 2, null));
        p.put("llama-3.2-1b", new Preset(128256, 2048, 8192, 16, 32, 8, 64, 131072, 500000, "1e-5",
                llama3Scaling(32.0, 1.0, 4.0, 8192), true, false, false, 128000, 128001, null));
        // One tensor above 2 GiB in float32 (a tied 160000 x 4096 embedding, 2.6 GB), the rest kept small: the
        // shape of the largest tensors of 7B-70B models, to prove they are read, converted and written in chunks.
        p.put("big-embedding", new Preset(160000, 4096, 256, 1, 32, 1, 128, 2048, 10000, "1e-5", null, true, false,
                false, 1, 2, null));
        return new LlamaRandomLayout("llama", "LlamaForCausalLM", p);
    }

    /** {@code mistral}: {@code tiny} (GQA, sliding_window 8) and {@code mistral-7b} (Mistral-7B-v0.1's shapes). */
    public static LlamaRandomLayout mistral() {
        Map<String, Preset> p = new LinkedHashMap<>();
        p.put("tiny", new Preset(1000, 64, 176, 2, 4, 2, 16, 512, 10000, "1e-5", null, false, false, false, 1, 2, 8));
        p.put("mistral-7b", new Preset(32000, 4096, 14336, 32, 32, 8, 128, 32768, 10000, "1e-5", null, false, false,
                false, 1, 2, 4096));
        return new LlamaRandomLayout("mistral", "MistralForCausalLM", p);
    }

    private static JsonObject scaling(String type, double factor) {
        JsonObject s = new JsonObject();
        s.addProperty("factor", factor);
        s.addProperty("rope_type", type);
        return s;
    }

    /** Older configs name the type {@code type}; this preset keeps that spelling so both are exercised. */
    private static JsonObject dynamicScaling(double factor) {
        JsonObject s = new JsonObject();
        s.addProperty("factor", factor);
        s.addProperty("type", "dynamic");
        return s;
    }

    /** Keys sorted, as transformers writes them. */
    private static JsonObject llama3Scaling(double factor, double low, double high, int originalMax) {
        JsonObject s = new JsonObject();
        s.addProperty("factor", factor);
        s.addProperty("high_freq_factor", high);
        s.addProperty("low_freq_factor", low);
        s.addProperty("original_max_position_embeddings", originalMax);
        s.addProperty("rope_type", "llama3");
        return s;
    }

    @Override
    public String arch() {
        return arch;
    }

    @Override
    public List<String> presets() {
        return List.copyOf(presets.keySet());
    }

    @Override
    public JsonObject config(String preset) {
        Preset p = presets.get(preset);
        if (p == null) {
            throw new IllegalArgumentException("no " + arch + " preset '" + preset + "'");
        }
        boolean mistral = arch.equals("mistral");
        // The keys LlamaConfig / MistralConfig.save_pretrained writes, sorted as transformers sorts them.
        JsonObject c = new JsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add(architecture);
        c.add("architectures", architectures);
        if (!mistral) {
            c.addProperty("attention_bias", p.attentionBias());
        }
        c.addProperty("attention_dropout", 0.0);
        c.addProperty("bos_token_id", p.bos());
        c.addProperty("eos_token_id", p.eos());
        c.addProperty("head_dim", p.headDim());
        c.addProperty("hidden_act", "silu");
        c.addProperty("hidden_size", p.hidden());
        c.addProperty("initializer_range", INIT_STD);
        c.addProperty("intermediate_size", p.intermediate());
        c.addProperty("max_position_embeddings", p.maxPositions());
        if (!mistral) {
            c.addProperty("mlp_bias", p.mlpBias());
        }
        c.addProperty("model_type", arch);
        c.addProperty("num_attention_heads", p.heads());
        c.addProperty("num_hidden_layers", p.layers());
        c.addProperty("num_key_value_heads", p.kvHeads());
        if (!mistral) {
            c.addProperty("pretraining_tp", 1);
        }
        c.addProperty("rms_norm_eps", new BigDecimal(p.rmsNormEps())); // BigDecimal keeps "1.0E-5" out of the file
        if (!mistral) {
            c.add("rope_scaling", p.ropeScaling() == null ? JsonNull.INSTANCE : p.ropeScaling().deepCopy());
        }
        c.addProperty("rope_theta", p.ropeTheta());
        if (mistral) {
            c.add("sliding_window", p.slidingWindow() == null ? JsonNull.INSTANCE
                    : new com.google.gson.JsonPrimitive(p.slidingWindow()));
        }
        c.addProperty("tie_word_embeddings", p.tied());
        c.addProperty("torch_dtype", "float32");
        c.addProperty("use_cache", true);
        c.addProperty("vocab_size", p.vocab());
        return c;
    }

    @Override
    public List<RandomTensor> tensors(JsonObject config) {
        long vocab = config.get("vocab_size").getAsLong();
        long hidden = config.get("hidden_size").getAsLong();
        long inter = config.get("intermediate_size").getAsLong();
        int layers = config.get("num_hidden_layers").getAsInt();
        long heads = config.get("num_attention_heads").getAsLong();
        long kvHeads = config.get("num_key_value_heads").getAsLong();
        long headDim = config.has("head_dim") ? config.get("head_dim").getAsLong() : hidden / heads;
        boolean attentionBias = flag(config, "attention_bias");
        boolean mlpBias = flag(config, "mlp_bias");
        boolean tied = flag(config, "tie_word_embeddings");

        List<RandomTensor> t = new ArrayList<>();
        t.add(RandomTensor.normal("model.embed_tokens.weight", INIT_STD, vocab, hidden));
        for (int i = 0; i < layers; i++) {
            String l = "model.layers." + i + ".";
            addLinear(t, l + "self_attn.q_proj", heads * headDim, hidden, attentionBias);
            addLinear(t, l + "self_attn.k_proj", kvHeads * headDim, hidden, attentionBias);
            addLinear(t, l + "self_attn.v_proj", kvHeads * headDim, hidden, attentionBias);
            addLinear(t, l + "self_attn.o_proj", hidden, heads * headDim, attentionBias);
            addLinear(t, l + "mlp.gate_proj", inter, hidden, mlpBias);
            addLinear(t, l + "mlp.up_proj", inter, hidden, mlpBias);
            addLinear(t, l + "mlp.down_proj", hidden, inter, mlpBias);
            t.add(RandomTensor.aroundOne(l + "input_layernorm.weight", NORM_STD, hidden));
            t.add(RandomTensor.aroundOne(l + "post_attention_layernorm.weight", NORM_STD, hidden));
        }
        t.add(RandomTensor.aroundOne("model.norm.weight", NORM_STD, hidden));
        if (!tied) {
            t.add(RandomTensor.normal("lm_head.weight", INIT_STD, vocab, hidden));
        }
        return t;
    }

    private static boolean flag(JsonObject config, String key) {
        return config.has(key) && !config.get(key).isJsonNull() && config.get(key).getAsBoolean();
    }

    /** {@code nn.Linear}: weight {@code [out, in]}; biases random (not 0) so tests see them. */
    private static void addLinear(List<RandomTensor> t, String prefix, long out, long in, boolean bias) {
        t.add(RandomTensor.normal(prefix + ".weight", INIT_STD, out, in));
        if (bias) {
            t.add(RandomTensor.normal(prefix + ".bias", INIT_STD, out));
        }
    }
}
