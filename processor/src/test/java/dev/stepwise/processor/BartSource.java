package dev.stepwise.processor;

import com.google.testing.compile.JavaFileObjects;
import javax.tools.JavaFileObject;

/**
 * A valid encoder-decoder declaration (BART's, every decoder value spelled out), one annotation value per line so a
 * test can edit one value and expect the error on that value's line. Edits replace text that must occur exactly once.
 */
final class BartSource {
    static final String TEXT = """
            package test;

            import dev.stepwise.annotations.ConfigKeys;
            import dev.stepwise.annotations.DType;
            import dev.stepwise.annotations.DecoderGraph;
            import dev.stepwise.annotations.EncoderGraph;
            import dev.stepwise.annotations.KeyValueCache;
            import dev.stepwise.annotations.Seq2SeqConfig;
            import dev.stepwise.annotations.Task;
            import dev.stepwise.annotations.TaskOutput;
            import dev.stepwise.annotations.TensorSpec;
            import dev.stepwise.runtime.model.EncoderInputs;
            import dev.stepwise.runtime.model.KvCache;
            import dev.stepwise.runtime.model.ModelConfig;
            import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
            import dev.stepwise.runtime.model.Seq2SeqLm;
            import dev.stepwise.runtime.ops.Ops;
            import dev.stepwise.runtime.ops.Tensor;

            @Seq2SeqConfig(
                modelType = "bart",
                opset = 14,
                atol = 1e-4,
                config = @ConfigKeys(numLayers = "decoder_layers", numAttentionHeads = "decoder_attention_heads", hiddenSize = "d_model"),
                encoder = @EncoderGraph(
                    inputs = {
                        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "encoder_sequence_length"}),
                        @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "encoder_sequence_length"})},
                    outputs = @TaskOutput(
                        task = Task.FEATURE_EXTRACTION,
                        tensor = @TensorSpec(name = "last_hidden_state", type = DType.FLOAT, axes = {"batch_size", "encoder_sequence_length", "hidden_size"}))),
                decoder = @DecoderGraph(
                    inputs = { // decoder
                        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "decoder_sequence_length"}),
                        @TensorSpec(name = "encoder_attention_mask", type = DType.INT64, axes = {"batch_size", "encoder_sequence_length"}),
                        @TensorSpec(name = "encoder_hidden_states", type = DType.FLOAT, axes = {"batch_size", "encoder_sequence_length", "hidden_size"})},
                    selfCache = @KeyValueCache(
                        past = "past_key_values.{layer}.decoder.{kind}",
                        present = "present.{layer}.decoder.{kind}",
                        axes = {"batch_size", "num_attention_heads", "past_decoder_sequence_length", "head_dim"}),
                    crossCache = @KeyValueCache(
                        past = "past_key_values.{layer}.encoder.{kind}",
                        present = "present.{layer}.encoder.{kind}",
                        axes = {"batch_size", "num_attention_heads", "encoder_sequence_length", "head_dim"}),
                    outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "decoder_sequence_length", "vocab_size"})))
            public final class Bart implements Seq2SeqLm {
                @Override
                public Tensor encode(Ops ops, ModelConfig config, EncoderInputs inputs) {
                    return inputs.inputIds();
                }

                @Override
                public Tensor decode(Ops ops, ModelConfig config, Seq2SeqDecoderInputs inputs, KvCache selfCache,
                        KvCache crossCache) {
                    return inputs.inputIds();
                }

                @Override
                public int decoderLayers(ModelConfig config) {
                    return config.numLayers();
                }
            }
            """;

    private BartSource() {
    }

    static JavaFileObject valid() {
        return JavaFileObjects.forSourceString("test.Bart", TEXT);
    }
}
