package dev.stepwise.processor;

import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import javax.lang.model.element.TypeElement;

/**
 * What every architecture annotation declares, whatever its kind ({@code @OnnxConfig}, {@code @EncoderConfig},
 * {@code @Seq2SeqConfig}): the class, its model type, opset, tolerance and config keys. {@link DeclarationChecks}
 * checks these and {@link ConfigGenerator} writes the typed config from them, once for all kinds.
 */
interface Declaration {
    TypeElement type();

    Located<String> modelType();

    Located<Integer> opset();

    Located<Double> atol();

    ConfigKeysModel config();
}
