package dev.stepwise.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.annotation.ElementType;

/**
 * Declares a text-generation architecture's ONNX contract. The Stepwise processor checks it at compile time and
 * generates, for a class {@code X}: {@code XExporter} (entry points and the {@code ServiceLoader} registration by
 * {@code modelType}), {@code XDummyInputs} and {@code XConfig} (the typed, normalized {@code config.json}).
 *
 * <p>The annotated class must be a public, non-abstract class with a public no-argument constructor that implements
 * {@code dev.stepwise.runtime.model.CausalLm}.
 *
 * <p>Every member has a default, and the defaults are the decoder contract Hugging Face optimum exports: inputs
 * {@code input_ids}, {@code attention_mask} and {@code position_ids} (int64), the key/value cache
 * {@code past_key_values.{layer}.{kind}} → {@code present.{layer}.{kind}} laid out
 * {@code [batch_size, num_key_value_heads, past_sequence_length, head_dim]}, and the output {@code logits}
 * {@code [batch_size, sequence_length, vocab_size]}, for both text-generation tasks. A model declares what differs,
 * usually just its {@code modelType} and the {@code config.json} key names ({@link ConfigKeys}); the processor
 * validates the whole contract, defaults included.
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface OnnxConfig {
    /** The {@code model_type} of {@code config.json} this class handles, e.g. {@code gpt2}. */
    String modelType();

    /** By default both: without and with a key/value cache. */
    Task[] tasks() default {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST};

    /** Default ONNX opset of the exported graph. */
    int opset() default 14;

    /** Validation tolerance (max abs difference) of an fp32 export against the PyTorch reference. */
    double atol() default 1e-4;

    ConfigKeys config() default @ConfigKeys;

    /** The graph inputs; by default optimum's three id inputs. */
    TensorSpec[] inputs() default {
        @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
        @TensorSpec(name = "attention_mask", type = DType.INT64,
                axes = {"batch_size", "past_sequence_length + sequence_length"}),
        @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})};

    /** The past/present key/value tensors; {@link KeyValueCache}'s defaults are optimum's names and layout. */
    KeyValueCache cache() default @KeyValueCache;

    /** The graph outputs besides the cache; by default optimum's {@code logits}. */
    TensorSpec[] outputs() default
        @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"});
}
