package dev.stepwise.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Declares an encoder-only architecture's ONNX contract (optimum's {@code BertOnnxConfig} family): one graph,
 * {@code model.onnx}, whose inputs are fixed and whose output depends on the task. The Stepwise processor checks it
 * at compile time and generates, for a class {@code X}: {@code XExporter} (the {@code EncoderArchitecture} found
 * through {@code ServiceLoader} by {@code modelType}), {@code XDummyInputs} and {@code XConfig}.
 *
 * <p>The annotated class must be a public, non-abstract class with a public no-argument constructor that implements
 * {@code dev.stepwise.runtime.model.EncoderModel}.
 *
 * <p>The graph itself is an {@link EncoderGraph}, a separate annotation so that an encoder-decoder declaration can
 * name its encoder the same way.
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface EncoderConfig {
    /** The {@code model_type} of {@code config.json} this class handles, e.g. {@code bert}. */
    String modelType();

    /** Encoder tasks only: FEATURE_EXTRACTION, TEXT_CLASSIFICATION, FILL_MASK; each needs a {@link TaskOutput}. */
    Task[] tasks();

    /** Default ONNX opset of the exported graph. */
    int opset() default 14;

    /** Validation tolerance (max abs difference) of an fp32 export against the PyTorch reference. */
    double atol() default 1e-4;

    ConfigKeys config() default @ConfigKeys;

    /** The graph; the default is optimum's ({@link EncoderGraph}'s defaults). */
    EncoderGraph encoder() default @EncoderGraph;
}
