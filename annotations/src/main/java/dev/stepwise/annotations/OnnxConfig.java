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
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface OnnxConfig {
    /** The {@code model_type} of {@code config.json} this class handles, e.g. {@code gpt2}. */
    String modelType();

    Task[] tasks() default {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST};

    /** Default ONNX opset of the exported graph. */
    int opset() default 14;

    /** Validation tolerance (max abs difference) of an fp32 export against the PyTorch reference. */
    double atol() default 1e-4;

    ConfigKeys config() default @ConfigKeys;

    TensorSpec[] inputs();

    KeyValueCache cache() default @KeyValueCache;

    TensorSpec[] outputs();
}
