package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ConfigJson;
import dev.stepwise.runtime.model.DecoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.AttentionMask;
import dev.stepwise.runtime.model.layers.Heads;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.LmHead;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.model.layers.RmsNorm;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A made-up decoder that exists only in this test folder, to show that adding an architecture is one class and no
 * runtime change: GPT-J-style parallel blocks (attention and MLP both read one LayerNorm's output and are added to
 * the residual together), learned positions, a fused bias-free q/k/v projection, a final RMSNorm, and an LM head tied
 * to the token embedding unless the checkpoint saves {@code toy.head.weight}. Its {@code config.json} names its sizes
 * its own way. Each weight is named once, where it is used, with its shape; the processor generates the exporter,
 * and the checkpoint check and the random checkpoint are derived from this forward.
 */
@OnnxConfig(modelType = "toy_parallel", config = @ConfigKeys(numLayers = "n_layers", numAttentionHeads = "n_heads",
        hiddenSize = "d_model", maxPositions = "n_ctx"))
public final class ToyParallel implements CausalLm {

    @Override
    public Tensor forward(Ops ops, ModelConfig config, DecoderInputs in, KvCache cache) {
        long vocab = config.vocabSize();
        long width = config.hiddenSize();
        long inner = config.getInt("d_ff", 4 * config.hiddenSize());

        Tensor embed = ops.weight("toy.embed.weight", vocab, width);
        Tensor hidden = ops.add(ops.gather(embed, in.inputIds()),
                ops.gather(ops.weight("toy.positions.weight", config.maxPositions(), width), in.positionIds()));
        Tensor mask = AttentionMask.causal(ops, in);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String b = "toy.blocks." + layer + ".";
            Tensor x = Norms.layerNorm(ops, hidden, b + "norm", width, 1e-5f);
            Tensor attention = attention(ops, config, layer, b + "attn.", x, mask, cache);
            Tensor mlp = Linear.apply(ops, ops.gelu(Linear.apply(ops, x, b + "mlp.fc_in", width, inner)),
                    b + "mlp.fc_out", inner, width);
            hidden = ops.add(hidden, ops.add(attention, mlp));
        }
        hidden = RmsNorm.apply(ops, hidden, "toy.final_norm", width, 1e-6f);
        return LmHead.logits(ops, in, hidden, ops.weightOr("toy.head.weight", embed, vocab, width));
    }

    private static Tensor attention(Ops ops, ModelConfig config, int layer, String w, Tensor x, Tensor mask,
                                    KvCache cache) {
        long width = config.hiddenSize();
        Dim batch = ops.dim(x, 0);
        Dim sequence = ops.dim(x, 1);
        Tensor qkv = Linear.apply(ops, x, w + "qkv", width, 3 * width, false);
        Tensor query = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(0), Dim.of(width)), batch, sequence);
        Tensor key = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(width), Dim.of(2 * width)), batch, sequence);
        Tensor value = Heads.split(ops, config, ops.slice(qkv, -1, Dim.of(2 * width), Dim.of(3 * width)), batch,
                sequence);
        if (cache.hasPast()) {
            key = ops.concat(2, cache.pastKey(layer), key);
            value = ops.concat(2, cache.pastValue(layer), value);
        }
        cache.setPresent(layer, key, value);
        Tensor scores = ops.mul(ops.matmul(query, ops.transpose(key, 0, 1, 3, 2)),
                ops.scalar((float) (1 / Math.sqrt(config.headDim()))));
        Tensor context = ops.matmul(ops.softmax(AttentionMask.apply(ops, scores, mask), -1), value);
        return Linear.apply(ops, Heads.merge(ops, context, batch, sequence, width), w + "out", width, width);
    }

    @Override
    public Map<String, JsonObject> randomPresets() {
        return Map.of("tiny", ConfigJson.of("architectures", List.of("ToyParallelForCausalLM"), "bos_token_id", 1,
                "d_ff", 128, "d_model", 64, "eos_token_id", 2, "model_type", "toy_parallel", "n_ctx", 128,
                "n_heads", 4, "n_layers", 2, "vocab_size", 1000));
    }
}
