package dev.stepwise.models;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.model.layers.Projection;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * GPT-Neo, as transformers' {@code GPTNeoForCausalLM} computes it: learned positions, pre-LayerNorm blocks whose
 * attention alternates between global and local ({@code attention_layers}, or {@code attention_types} expanded), a
 * local layer seeing only the last {@code window_size} cache slots, itself included. Scores are not scaled by
 * {@code 1/sqrt(head_dim)}; q/k/v have no bias, out_proj has one; all projections are {@code nn.Linear}
 * ({@code [out, in]}); gelu_new MLP; LM head tied to the token embedding. transformers computes the scores in float32
 * and masks them with float32's lowest value, which is what this forward does in float32 and float16 graphs alike.
 */
@OnnxConfig(modelType = "gpt_neo", config = @ConfigKeys(numLayers = "num_layers", numAttentionHeads = "num_heads"))
public final class GptNeo implements CausalLm {
    /** GPTNeoConfig's defaults. */
    static final int DEFAULT_WINDOW = 256;

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "transformer.";
        float eps = (float) config.getDouble("layer_norm_epsilon", 1e-5);
        String activation = Activations.read(config, "activation_function", "gelu_new");
        List<String> kinds = attentionLayers(config);
        int window = windowSize(config);
        long e = config.hiddenSize();
        long inner = config.getInt("intermediate_size", 4 * config.hiddenSize());

        Tensor wte = ops.weight(p + "wte.weight", config.vocabSize(), e);
        Tensor hidden = ops.add(ops.gather(wte, in.inputIds()),
                ops.gather(ops.weight(p + "wpe.weight", config.maxPositions(), e), in.positionIds()));
        // One attention set-up (mask) per kind, built only when some layer uses it.
        CausalAttention global = kinds.contains("global") ? ops.causalAttention(spec(config, 0), in) : null;
        CausalAttention local = kinds.contains("local") ? ops.causalAttention(spec(config, window), in) : null;

        Projection pending = null; // the previous block's MLP output, added to the residual inside the next norm
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "h." + layer + ".";
            CausalAttention attention = kinds.get(layer).equals("local") ? local : global;
            ResidualNorm ln1 = Norms.addThenLayerNorm(ops, hidden, pending, h + "ln_1", e, eps);
            Projection attn = attention(ops, config, layer, h + "attn.attention.", ln1.normed(), attention, cache);
            ResidualNorm ln2 = Norms.addThenLayerNorm(ops, ln1.sum(), attn, h + "ln_2", e, eps);
            hidden = ln2.sum();
            pending = Linear.project(ops, Linear.applyThenActivate(ops, ln2.normed(), h + "mlp.c_fc", e, inner,
                    activation), h + "mlp.c_proj", inner, e);
        }
        hidden = Norms.addThenLayerNorm(ops, hidden, pending, p + "ln_f", e, eps).normed();

        Tensor lmHead = ops.weightOr("lm_head.weight", wte, config.vocabSize(), e);
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    /**
     * GPT-Neo's attention: unscaled scores, computed, masked and soft-maxed in float32 (then the values weighed in
     * their own type); {@code window} 0 for a global layer.
     */
    private static CausalAttention.Spec spec(ModelConfig config, int window) {
        return new CausalAttention.Spec(config.numAttentionHeads(), config.headDim(), window, false, false,
                CausalAttention.Precision.FLOAT32_SCORES);
    }

    private static Projection attention(Ops ops, ModelConfig config, int layer, String w, Tensor x,
                                    CausalAttention attention, KvCache cache) {
        long e = config.hiddenSize();
        Tensor context = attention.apply(ops.dim(x, 0), ops.dim(x, 1),
                () -> Linear.apply(ops, x, w + "q_proj", e, e, false),
                () -> Linear.apply(ops, x, w + "k_proj", e, e, false),
                () -> Linear.apply(ops, x, w + "v_proj", e, e, false), cache, layer);
        return Linear.project(ops, context, w + "out_proj", e, e);
    }

    static int windowSize(ModelConfig config) {
        int window = config.getInt("window_size", DEFAULT_WINDOW);
        if (window < 1) {
            throw new StepwiseException(config.source() + ": key 'window_size' must be at least 1, found " + window);
        }
        return window;
    }

    /**
     * Each layer's attention kind, "global" or "local". As in {@code GPTNeoConfig}: {@code attention_layers} when
     * the file has it, else {@code attention_types} ({@code [[["global", "local"], 12]]} by default) expanded, each
     * entry's kind list repeated its count of times. The result must name exactly one kind per layer.
     */
    static List<String> attentionLayers(ModelConfig config) {
        String where = config.source().toString();
        List<String> kinds = new ArrayList<>();
        String key;
        if (config.has("attention_layers") && !config.json().get("attention_layers").isJsonNull()) {
            key = "attention_layers";
            JsonElement layers = config.json().get(key);
            if (!layers.isJsonArray()) {
                throw new StepwiseException(where + ": key 'attention_layers' must be a list of \"global\"/\"local\", found "
                        + layers);
            }
            for (JsonElement e : layers.getAsJsonArray()) {
                kinds.add(kind(where, key, e));
            }
        } else {
            key = "attention_types";
            JsonElement types = config.has(key) && !config.json().get(key).isJsonNull()
                    ? config.json().get(key) : com.google.gson.JsonParser.parseString("[[[\"global\", \"local\"], 12]]");
            String expected = "a list of [[kinds...], count] pairs, e.g. [[[\"global\", \"local\"], 6]]";
            if (!types.isJsonArray()) {
                throw new StepwiseException(where + ": key 'attention_types' must be " + expected + ", found " + types);
            }
            for (JsonElement item : types.getAsJsonArray()) {
                if (!item.isJsonArray() || item.getAsJsonArray().size() != 2 || !item.getAsJsonArray().get(0).isJsonArray()
                        || !item.getAsJsonArray().get(1).isJsonPrimitive()
                        || !item.getAsJsonArray().get(1).getAsJsonPrimitive().isNumber()) {
                    throw new StepwiseException(where + ": key 'attention_types' must be " + expected + ", found " + item);
                }
                JsonArray pattern = item.getAsJsonArray().get(0).getAsJsonArray();
                int count = item.getAsJsonArray().get(1).getAsInt();
                for (int i = 0; i < count; i++) {
                    for (JsonElement e : pattern) {
                        kinds.add(kind(where, key, e));
                    }
                }
            }
        }
        if (kinds.size() != config.numLayers()) {
            throw new StepwiseException(where + ": '" + key + "' gives " + kinds.size() + " attention layers but the model has "
                    + config.numLayers() + " layers (num_layers)");
        }
        return kinds;
    }

    private static String kind(String where, String key, JsonElement e) {
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()
                && (e.getAsString().equals("global") || e.getAsString().equals("local"))) {
            return e.getAsString();
        }
        throw new StepwiseException(where + ": key '" + key + "' holds attention type " + e
                + "; only \"global\" and \"local\" exist");
    }

    /** {@code tiny} (a window of 4 slots, so local layers cut off context inside short test prompts) and 125M. */
    @Override
    public Map<String, JsonObject> randomPresets() {
        return ConfigJson.presets(Map.entry("tiny", preset(1000, 64, 4, 4, 128, 4, 999)),
                Map.entry("gpt-neo-125m", preset(50257, 768, 12, 12, 2048, 256, 50256)));
    }

    /** The keys GPTNeoConfig.save_pretrained writes, sorted; attention_layers is attention_types expanded. */
    private static JsonObject preset(int vocab, int hidden, int layers, int heads, int positions, int window,
                                     int bosEos) {
        List<String> kinds = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            kinds.add(i % 2 == 0 ? "global" : "local");
        }
        return ConfigJson.of("activation_function", "gelu_new", "architectures", List.of("GPTNeoForCausalLM"),
                "attention_dropout", 0, "attention_layers", kinds,
                "attention_types", List.of(List.of(List.of("global", "local"), layers / 2)), "bos_token_id", bosEos,
                "embed_dropout", 0, "eos_token_id", bosEos, "hidden_size", hidden, "initializer_range", 0.02,
                "intermediate_size", null, "layer_norm_epsilon", new BigDecimal("0.00001"),
                "max_position_embeddings", positions, "model_type", "gpt_neo", "num_heads", heads, "num_layers", layers,
                "resid_dropout", 0, "summary_activation", null, "summary_first_dropout", 0.1,
                "summary_proj_to_labels", true, "summary_type", "cls_index", "summary_use_proj", true,
                "torch_dtype", "float32", "use_cache", true, "vocab_size", vocab, "window_size", window);
    }
}
