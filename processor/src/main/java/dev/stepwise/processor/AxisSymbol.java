package dev.stepwise.processor;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The axis names an {@code @TensorSpec} may use. Each one is either dynamic (its size is chosen per call, so some
 * graph input has to carry it) or read from the checkpoint's config (always known). Which of them a graph may use
 * depends on its kind: {@link #DECODER} and {@link #ENCODER} are the two vocabularies.
 *
 * <p>{@code sizeCode} is the Java expression the generated dummy-input code uses for the axis's size; it refers to
 * the parameters of {@code create(ModelConfig config, int batch, int sequence, int past, long seed)} (an encoder's
 * {@code create} has the same ones but {@code past}).
 */
enum AxisSymbol {
    BATCH_SIZE("batch_size", true, "batch"),
    SEQUENCE_LENGTH("sequence_length", true, "sequence"),
    PAST_SEQUENCE_LENGTH("past_sequence_length", true, "past"),
    VOCAB_SIZE("vocab_size", false, "config.vocabSize()"),
    HIDDEN_SIZE("hidden_size", false, "config.hiddenSize()"),
    NUM_ATTENTION_HEADS("num_attention_heads", false, "config.numAttentionHeads()"),
    NUM_KEY_VALUE_HEADS("num_key_value_heads", false, "config.numKeyValueHeads()"),
    HEAD_DIM("head_dim", false, "config.headDim()"),
    NUM_LABELS("num_labels", false, "config.numLabels()");

    /** A decoder's symbols: a KV cache, so a past, but no classification labels. */
    static final Vocabulary DECODER = new Vocabulary(List.of(BATCH_SIZE, SEQUENCE_LENGTH, PAST_SEQUENCE_LENGTH,
            VOCAB_SIZE, HIDDEN_SIZE, NUM_ATTENTION_HEADS, NUM_KEY_VALUE_HEADS, HEAD_DIM));
    /** An encoder's symbols: no past (an encoder has no cache), and the labels of a classification head. */
    static final Vocabulary ENCODER = new Vocabulary(List.of(BATCH_SIZE, SEQUENCE_LENGTH, HIDDEN_SIZE, VOCAB_SIZE,
            NUM_LABELS));

    private final String symbol;
    private final boolean dynamic;
    private final String sizeCode;

    AxisSymbol(String symbol, boolean dynamic, String sizeCode) {
        this.symbol = symbol;
        this.dynamic = dynamic;
        this.sizeCode = sizeCode;
    }

    String symbol() {
        return symbol;
    }

    /** True for sizes that vary per call (batch and sequence lengths), false for sizes taken from config.json. */
    boolean dynamic() {
        return dynamic;
    }

    String sizeCode() {
        return sizeCode;
    }

    /** The symbols one kind of graph may use, in the order error messages list them. */
    record Vocabulary(List<AxisSymbol> symbols) {
        Optional<AxisSymbol> of(String symbol) {
            return symbols.stream().filter(s -> s.symbol.equals(symbol)).findFirst();
        }

        /** The vocabulary, for error messages. */
        String knownList() {
            return symbols.stream().map(AxisSymbol::symbol).collect(Collectors.joining(", "));
        }
    }
}
