package dev.stepwise.models;

import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.EncoderConfig;
import dev.stepwise.annotations.EncoderGraph;
import dev.stepwise.annotations.Task;
import dev.stepwise.annotations.TensorSpec;
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
 * BERT, as transformers' {@code BertModel} (feature-extraction), {@code BertForSequenceClassification}
 * (text-classification: tanh pooler on the first token, then the classifier) and {@code BertForMaskedLM}
 * (fill-mask: transform, then the decoder tied to the word embeddings) compute it: absolute learned positions,
 * token types, post-LayerNorm blocks, exact (erf) GELU.
 */
@EncoderConfig(modelType = "bert", tasks = {Task.FEATURE_EXTRACTION, Task.TEXT_CLASSIFICATION, Task.FILL_MASK},
        opset = 14, atol = 1e-4,
        encoder = @EncoderGraph(
                inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "token_type_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})}))
public final class Bert implements EncoderModel {

    @Override
    public Tensor forward(Ops ops, ModelConfig config, EncoderInputs in, Task task) {
        String where = config.source().toString();
        Activations.check(config.getString("hidden_act", "gelu"), where);
        String positions = config.getString("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new StepwiseException(where + ": position_embedding_type '" + positions + "' is not supported"
                    + " (expected absolute)");
        }
        String p = prefix(config);
        long h = config.hiddenSize();
        Tensor hidden = encode(ops, config, p, in);
        return switch (task) {
            case FEATURE_EXTRACTION -> hidden;
            case TEXT_CLASSIFICATION -> Linear.apply(ops, pooled(ops, config, p, hidden), "classifier", h,
                    config.numLabels());
            case FILL_MASK -> maskedLmLogits(ops, config, p, hidden);
            default -> throw new StepwiseException("bert has no " + task.cliName() + " head");
        };
    }

    /** {@code BertModel}'s last hidden state {@code [B, S, hidden]}. */
    static Tensor encode(Ops ops, ModelConfig config, String p, EncoderInputs in) {
        float eps = (float) config.getDouble("layer_norm_eps", 1e-12);
        String activation = config.getString("hidden_act", "gelu");
        long h = config.hiddenSize();
        long inner = config.getInt("intermediate_size", 4 * config.hiddenSize());
        Tensor hidden = embeddings(ops, config, p + "embeddings.", in, eps);
        EncoderAttention attention = ops.encoderAttention(
                new EncoderAttention.Spec(config.numAttentionHeads(), config.headDim(), false), in.attentionMask());
        return PostNormEncoderLayer.stack(ops, attention, hidden, config.numLayers(), layer -> {
            String l = p + "encoder.layer." + layer + ".";
            String w = l + "attention.self.";
            return new PostNormEncoderLayer(w + "query", w + "key", w + "value", l + "attention.output.dense",
                    l + "attention.output.LayerNorm", l + "intermediate.dense", l + "output.dense",
                    l + "output.LayerNorm");
        }, h, inner, activation, eps);
    }

    /** Word + position + token-type embeddings, then LayerNorm; positions {@code 0..S-1} unless given. */
    private static Tensor embeddings(Ops ops, ModelConfig config, String e, EncoderInputs in, float eps) {
        long h = config.hiddenSize();
        Tensor x = ops.gather(ops.weight(e + "word_embeddings.weight", config.vocabSize(), h), in.inputIds());
        Tensor positions = in.positionIds() != null ? in.positionIds()
                : ops.unsqueeze(ops.range(Dim.of(0), ops.dim(in.inputIds(), 1)), 0);
        x = ops.add(x, ops.gather(ops.weight(e + "position_embeddings.weight", config.maxPositions(), h), positions));
        Tensor types = ops.weight(e + "token_type_embeddings.weight", config.getInt("type_vocab_size", 2), h);
        // no token_type_ids: every token is of type 0, as transformers' zero buffer says
        x = ops.add(x, in.tokenTypeIds() != null ? ops.gather(types, in.tokenTypeIds())
                : ops.slice(types, 0, Dim.of(0), Dim.of(1)));
        return Norms.layerNorm(ops, x, e + "LayerNorm", h, eps);
    }

    /** {@code BertPooler}: tanh of a dense layer on the first ([CLS]) token, {@code [B, hidden]}. */
    private static Tensor pooled(Ops ops, ModelConfig config, String p, Tensor hidden) {
        Tensor first = ops.reshape(ops.slice(hidden, 1, Dim.of(0), Dim.of(1)), ops.dim(hidden, 0),
                Dim.of(config.hiddenSize()));
        return ops.tanh(Linear.apply(ops, first, p + "pooler.dense", config.hiddenSize(), config.hiddenSize()));
    }

    /** {@code BertOnlyMLMHead}: dense, activation, LayerNorm, then the decoder (the word embeddings unless untied). */
    private static Tensor maskedLmLogits(Ops ops, ModelConfig config, String p, Tensor hidden) {
        float eps = (float) config.getDouble("layer_norm_eps", 1e-12);
        String t = "cls.predictions.transform.";
        long h = config.hiddenSize();
        long vocab = config.vocabSize();
        Tensor x = Activations.apply(ops, config.getString("hidden_act", "gelu"),
                Linear.apply(ops, hidden, t + "dense", h, h));
        x = Norms.layerNorm(ops, x, t + "LayerNorm", h, eps);
        // the decoder is tied to the word embeddings unless the checkpoint has its own; its bias is the head's bias
        Tensor table = ops.weightOr("cls.predictions.decoder.weight",
                ops.weight(p + "embeddings.word_embeddings.weight", vocab, h), vocab, h);
        Tensor bias = ops.weightOr("cls.predictions.decoder.bias", ops.weight("cls.predictions.bias", vocab), vocab);
        return ops.add(ops.matmulTransposedB(x, table), bias);
    }

    /** A checkpoint saved from a head model ({@code BertFor...}) keeps the body under {@code bert.}. */
    static String prefix(ModelConfig config) {
        return EncoderConfigs.architecture(config).startsWith("BertFor") ? "bert." : "";
    }
}
