package dev.stepwise.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Declares an encoder-decoder architecture's ONNX contract (optimum's {@code Seq2SeqOnnxConfig} family, task
 * text2text-generation): an {@link EncoderGraph} run once per request, and a {@link DecoderGraph} run once per
 * generated token, attending to its own past through a self-attention cache and to the encoder's output through a
 * cross-attention cache computed from {@code encoder_hidden_states} on the first step.
 *
 * <p>Axes: the encoder's own sequence is {@code encoder_sequence_length}; the decoder's new tokens are
 * {@code decoder_sequence_length} and its past {@code past_decoder_sequence_length}. The annotated class must be a
 * public, non-abstract class with a public no-argument constructor that implements
 * {@code dev.stepwise.runtime.model.Seq2SeqLm}. The Stepwise processor checks the declaration at compile time.
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface Seq2SeqConfig {
    /** The {@code model_type} of {@code config.json} this class handles, e.g. {@code bart}. */
    String modelType();

    /** Default ONNX opset of the exported graphs. */
    int opset() default 14;

    /** Validation tolerance (max abs difference) of an fp32 export against the PyTorch reference. */
    double atol() default 1e-4;

    ConfigKeys config() default @ConfigKeys;

    /**
     * The encoder: one {@link TaskOutput} for FEATURE_EXTRACTION, {@code last_hidden_state}. The default is
     * optimum's: {@code input_ids} and {@code attention_mask} over {@code encoder_sequence_length}.
     */
    EncoderGraph encoder() default @EncoderGraph(
            inputs = {
                @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "encoder_sequence_length"}),
                @TensorSpec(name = "attention_mask", type = DType.INT64,
                        axes = {"batch_size", "encoder_sequence_length"})},
            outputs = @TaskOutput(task = Task.FEATURE_EXTRACTION, tensor = @TensorSpec(name = "last_hidden_state",
                    type = DType.FLOAT, axes = {"batch_size", "encoder_sequence_length", "hidden_size"})));

    /** The decoder; the default is optimum's ({@link DecoderGraph}'s defaults). */
    DecoderGraph decoder() default @DecoderGraph;
}
