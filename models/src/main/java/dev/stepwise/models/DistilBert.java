package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.EncoderConfig;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.EncoderModel;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.layers.Activations;
import dev.stepwise.runtime.model.layers.EncoderAttention;
import dev.stepwise.runtime.model.layers.Linear;
import dev.stepwise.runtime.model.layers.Norms;
import dev.stepwise.runtime.model.layers.PostNormEncoderLayer;
import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;

/**
 * DistilBERT, as transformers' {@code DistilBertModel}, {@code DistilBertForSequenceClassification} (first token,
 * {@code pre_classifier}, ReLU, {@code classifier}) and {@code DistilBertForMaskedLM} ({@code vocab_transform},
 * activation, {@code vocab_layer_norm}, projector tied to the word embeddings) compute it: BERT without token types
 * or pooler, learned positions, post-LayerNorm blocks (eps 1e-12).
 */
@EncoderConfig(modelType = "distilbert", tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION, Task.FILL_MASK},
        opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "n_layers", numAttentionHeads = "n_heads", hiddenSize = "dim"))
public final class DistilBert implements EncoderModel {
    /** transformers hard-codes it in DistilBERT's LayerNorms. */
    private static final float EPS = 1e-12f;

    @Override
    public Tensor forward(Ops ops, ModelConfig config, EncoderInputs in, Task task) {
        String activation = Activations.read(config, "activation", "gelu");
        String p = prefix(config);
        long h = config.hiddenSize();
        long vocab = config.vocabSize();
        Tensor hidden = encode(ops, config, p, in, activation);
        return switch (task) {
            case FEATURE_EXTRACTION -> hidden;
            case TEXT_CLASSIFICATION -> {
                Tensor first = ops.reshape(ops.slice(hidden, 1, Dim.of(0), Dim.of(1)), ops.dim(hidden, 0),
                        Dim.of(config.hiddenSize()));
                yield Linear.apply(ops, ops.relu(Linear.apply(ops, first, "pre_classifier", h, h)), "classifier", h,
                        config.numLabels());
            }
            case FILL_MASK -> {
                Tensor x = Activations.apply(ops, activation, Linear.apply(ops, hidden, "vocab_transform", h, h));
                x = Norms.layerNorm(ops, x, "vocab_layer_norm", h, EPS);
                // the projector is tied to the word embeddings unless the checkpoint has its own
                Tensor table = ops.weightOr("vocab_projector.weight",
                        ops.weight(p + "embeddings.word_embeddings.weight", vocab, h), vocab, h);
                yield ops.add(ops.matmulTransposedB(x, table), ops.weight("vocab_projector.bias", vocab));
            }
            default -> throw new StepwiseException("distilbert has no " + task.cliName() + " head");
        };
    }

    private static Tensor encode(Ops ops, ModelConfig config, String p, EncoderInputs in, String activation) {
        String e = p + "embeddings.";
        long h = config.hiddenSize();
        long inner = config.getInt("hidden_dim", 4 * config.hiddenSize());
        Tensor positions = ops.unsqueeze(ops.range(Dim.of(0), ops.dim(in.inputIds(), 1)), 0);
        Tensor hidden = ops.add(ops.gather(ops.weight(e + "word_embeddings.weight", config.vocabSize(), h), in.inputIds()),
                ops.gather(ops.weight(e + "position_embeddings.weight", config.maxPositions(), h), positions));
        hidden = Norms.layerNorm(ops, hidden, e + "LayerNorm", h, EPS);
        // DistilBERT scales the queries before the product, as its MultiHeadSelfAttention does
        EncoderAttention attention = ops.encoderAttention(
                new EncoderAttention.Spec(config.numAttentionHeads(), config.headDim(), true), in.attentionMask());
        return PostNormEncoderLayer.stack(ops, attention, hidden, config.numLayers(), layer -> {
            String l = p + "transformer.layer." + layer + ".";
            String w = l + "attention.";
            return new PostNormEncoderLayer(w + "q_lin", w + "k_lin", w + "v_lin", w + "out_lin", l + "sa_layer_norm",
                    l + "ffn.lin1", l + "ffn.lin2", l + "output_layer_norm");
        }, h, inner, activation, EPS);
    }


    /** A checkpoint saved from a head model ({@code DistilBertFor...}) keeps the body under {@code distilbert.}. */
    private static String prefix(ModelConfig config) {
        return EncoderConfigs.architecture(config).startsWith("DistilBertFor") ? "distilbert." : "";
    }
}
