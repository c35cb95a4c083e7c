package dev.stepwise.runtime.model;

import java.util.List;

/**
 * Everything a {@code @Seq2SeqConfig} declares, as a value: the encoder's inputs and output, the decoder's inputs, its
 * self- and cross-attention caches and its logits. The processor writes the code that builds it.
 */
public record Seq2SeqSpec(String modelType, int opset, double atol, ConfigKeyMap configKeys,
                          List<TensorDecl> encoderInputs, TensorDecl encoderOutput, List<TensorDecl> decoderInputs,
                          CacheDecl selfCache, CacheDecl crossCache, TensorDecl logits) {
    public static final String PAST_DECODER_SEQUENCE = "past_decoder_sequence_length";
    public static final String TOTAL_DECODER_SEQUENCE = "past_decoder_sequence_length + decoder_sequence_length";

    public Seq2SeqSpec {
        encoderInputs = List.copyOf(encoderInputs);
        decoderInputs = List.copyOf(decoderInputs);
    }

    /** A present self-attention tensor's layout: the past's, grown by the new tokens. */
    public List<String> selfPresentAxes() {
        return selfCache.axes().stream().map(a -> a.equals(PAST_DECODER_SEQUENCE) ? TOTAL_DECODER_SEQUENCE : a).toList();
    }
}
