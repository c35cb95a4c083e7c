package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.CausalAttention;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.model.layers.Projection;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ResidualNorm;
import dev.stepwise.runtime.ops.Tensor;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * GPT-2, as transformers' {@code GPT2LMHeadModel} computes it: learned positions, pre-LayerNorm blocks, fused
 * {@code c_attn} projection stored as Conv1D ({@code [in, out]}), gelu_new MLP, LM head tied to the token embedding.
 */
@OnnxConfig(modelType = "gpt2",
        config = @ConfigKeys(numLayers = "n_layer", numAttentionHeads = "n_head", hiddenSize = "n_embd",
                maxPositions = "n_positions"))
public final class Gpt2 implements CausalLm {

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        String p = "transformer.";
        float eps = (float) config.getDouble("layer_norm_epsilon", 1e-5);
        String activation = Activations.read(config, "activation_function", "gelu_new");
        long e = config.hiddenSize();
        long inner = config.getInt("n_inner", 4 * config.hiddenSize());

        Tensor wte = ops.weight(p + "wte.weight", config.vocabSize(), e);
        Tensor hidden = ops.add(ops.gather(wte, in.inputIds()),
                ops.gather(ops.weight(p + "wpe.weight", config.maxPositions(), e), in.positionIds()));
        CausalAttention attention = ops.causalAttention(new CausalAttention.Spec(config.numAttentionHeads(),
                config.headDim(), 0, config.getBoolean("scale_attn_weights", true),
                config.getBoolean("scale_attn_by_inverse_layer_idx", false), CausalAttention.Precision.COMPUTE_TYPE),
                in);

        Projection pending = null; // the previous block's MLP output, added to the residual inside the next norm
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String h = p + "h." + layer + ".";
            ResidualNorm ln1 = Norms.addThenLayerNorm(ops, hidden, pending, h + "ln_1", e, eps);
            Projection attn = attention(ops, config, layer, h + "attn.", ln1.normed(), attention, cache);
            ResidualNorm ln2 = Norms.addThenLayerNorm(ops, ln1.sum(), attn, h + "ln_2", e, eps);
            hidden = ln2.sum();
            pending = mlp(ops, activation, h + "mlp.", e, inner, ln2.normed());
        }
        hidden = Norms.addThenLayerNorm(ops, hidden, pending, p + "ln_f", e, eps).normed();

        Tensor lmHead = ops.weightOr("lm_head.weight", wte, config.vocabSize(), e);
        return LmHead.logits(ops, in, hidden, lmHead);
    }

    private static Projection attention(Ops ops, ModelConfig config, int layer, String w, Tensor x,
                                    CausalAttention attention, KvCache cache) {
        int embed = config.hiddenSize();
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        Tensor qkv = conv1d(ops, x, w + "c_attn", embed, 3L * embed).value(ops);
        Tensor context = attention.apply(batch, sequence, () -> ops.slice(qkv, -1, Dim.of(0), Dim.of(embed)),
                () -> ops.slice(qkv, -1, Dim.of(embed), Dim.of(2L * embed)),
                () -> ops.slice(qkv, -1, Dim.of(2L * embed), Dim.of(3L * embed)), cache, layer);
        return conv1d(ops, context, w + "c_proj", embed, embed);
    }

    private static Projection mlp(Ops ops, String activation, String w, long e, long inner, Tensor x) {
        Tensor fc = ops.matmul(x, ops.weight(w + "c_fc.weight", e, inner));
        Tensor hidden = ops.biasActivation(activation, fc, ops.weight(w + "c_fc.bias", inner));
        return conv1d(ops, hidden, w + "c_proj", inner, e);
    }

    /**
     * GPT-2's Conv1D is a linear layer whose weight is stored {@code [in, out]}; its bias is added by the caller, or
     * by the residual norm after it.
     */
    private static Projection conv1d(Ops ops, Tensor x, String name, long in, long out) {
        Tensor product = ops.matmul(x, ops.weight(name + ".weight", in, out));
        return new Projection(product, ops.weight(name + ".bias", out));
    }

    /** {@code tiny} (special ids at the top of its small vocabulary, as GPT-2's 50256 is) and {@code gpt2} (124M). */
    @Override
    public Map<String, JsonObject> randomPresets() {
        return ConfigJson.presets(Map.entry("tiny", preset(1000, 64, 2, 4, 128, 999)),
                Map.entry("gpt2", preset(50257, 768, 12, 12, 1024, 50256)));
    }

    /** The keys GPT2Config.save_pretrained writes, sorted as transformers sorts them. */
    private static JsonObject preset(int vocab, int embd, int layers, int heads, int positions, int bosEos) {
        return ConfigJson.of("activation_function", "gelu_new", "architectures", List.of("GPT2LMHeadModel"),
                "attn_pdrop", 0.1, "bos_token_id", bosEos, "embd_pdrop", 0.1, "eos_token_id", bosEos,
                "initializer_range", 0.02, "layer_norm_epsilon", new BigDecimal("0.00001"), "model_type", "gpt2",
                "n_ctx", positions, "n_embd", embd, "n_head", heads, "n_inner", null, "n_layer", layers,
                "n_positions", positions, "reorder_and_upcast_attn", false, "resid_pdrop", 0.1,
                "scale_attn_by_inverse_layer_idx", false, "scale_attn_weights", true, "summary_activation", null,
                "summary_first_dropout", 0.1, "summary_proj_to_labels", true, "summary_type", "cls_index",
                "summary_use_proj", true, "tie_word_embeddings", true, "torch_dtype", "float32", "use_cache", true,
                "vocab_size", vocab);
    }
}
