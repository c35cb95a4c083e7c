package dev.stepwise.runtime.export;

import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolves a seq2seq declaration's axis names to graph dims: the batch and the sequence axes of either side stay
 * symbols ({@code dim_param}) for the dynamic set, or become the numbers of one fixed-shape graph (an unrolled
 * encoder or decoder step); config-derived axes are always numbers.
 *
 * @param batch   rows, or null for a symbol
 * @param encoder the encoder's sequence length (also the cross cache's length), or null
 * @param decoder tokens the decoder is fed in this graph, or null
 * @param past    self-attention positions cached before this graph, or null
 */
public record Seq2SeqAxes(Long batch, Long encoder, Long decoder, Long past) {
    /** The axis of the single decoder's {@code encoder_hidden_states}: the encoder's length, then 0. */
    static final String NEW_ENCODER_SEQUENCE = "new_encoder_sequence_length";
    /** The axis of the single decoder's cross past: 0, then the encoder's length. */
    static final String PAST_ENCODER_SEQUENCE = "past_encoder_sequence_length";
    static final String ENCODER_SEQUENCE = "encoder_sequence_length";

    /** Every batch and sequence axis a symbol: optimum's set and the single decoder. */
    public static Seq2SeqAxes dynamic() {
        return new Seq2SeqAxes(null, null, null, null);
    }

    /** A static graph: {@code batch} rows, {@code encoder} positions, {@code decoder} new tokens after {@code past}. */
    public static Seq2SeqAxes fixed(long batch, long encoder, long decoder, long past) {
        return new Seq2SeqAxes(batch, encoder, decoder, past);
    }

    public List<Object> resolveAll(List<String> axes, ModelConfig config) {
        List<Object> dims = new ArrayList<>();
        for (String a : axes) {
            dims.add(switch (a) {
                case "batch_size" -> batch != null ? (Object) batch : a;
                case ENCODER_SEQUENCE -> encoder != null ? (Object) encoder : a;
                case "decoder_sequence_length" -> decoder != null ? (Object) decoder : a;
                case Seq2SeqSpec.PAST_DECODER_SEQUENCE -> past != null ? (Object) past : a;
                case Seq2SeqSpec.TOTAL_DECODER_SEQUENCE -> past != null ? (Object) (past + decoder) : a;
                case NEW_ENCODER_SEQUENCE, PAST_ENCODER_SEQUENCE -> a;
                // T5 names its head width d_kv, which need not be d_model / num_heads
                case "head_dim" -> config.has("d_kv") ? (Object) (long) config.getInt("d_kv")
                        : (Object) (long) config.headDim();
                default -> AxisSizes.dynamic().resolve(a, config);
            });
        }
        return dims;
    }
}
