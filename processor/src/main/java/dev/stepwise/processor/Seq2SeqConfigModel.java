package dev.stepwise.processor;

import dev.stepwise.processor.EncoderConfigModel.EncoderGraphModel;
import dev.stepwise.processor.OnnxConfigModel.CacheModel;
import dev.stepwise.processor.OnnxConfigModel.ConfigKeysModel;
import dev.stepwise.processor.OnnxConfigModel.TensorModel;
import java.util.List;
import java.util.Optional;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.TypeElement;

/**
 * A {@code @Seq2SeqConfig} as plain values, each kept with its place in the source: the encoder graph (the same model
 * an {@code @EncoderConfig} holds) and the decoder graph with its two caches.
 */
record Seq2SeqConfigModel(TypeElement type, AnnotationMirror mirror, Located<String> modelType,
                          Located<Integer> opset, Located<Double> atol, ConfigKeysModel config,
                          EncoderGraphModel encoder, DecoderGraphModel decoder) implements Declaration {

    static final String ENCODER_ATTENTION_MASK = "encoder_attention_mask";
    static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";

    /** The {@code @DecoderGraph}. */
    record DecoderGraphModel(Where where, Where inputsWhere, List<TensorModel> inputs, CacheModel selfCache,
                             CacheModel crossCache, Where outputsWhere, List<TensorModel> outputs) {
        Optional<TensorModel> input(String name) {
            return inputs.stream().filter(t -> t.name().value().equals(name)).findFirst();
        }
    }
}
