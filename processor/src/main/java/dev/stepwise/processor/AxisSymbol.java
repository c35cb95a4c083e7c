package dev.stepwise.processor;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The axis names an {@code @TensorSpec} may use. Each one is either dynamic (its size is chosen per call, so some
 * graph input has to carry it) or read from the checkpoint's config (always known).
 *
 * <p>{@code sizeCode} is the Java expression the generated dummy-input code uses for the axis's size; it refers to
 * the parameters of {@code create(ModelConfig config, int batch, int sequence, int past, long seed)}.
 */
enum AxisSymbol {
    BATCH_SIZE("batch_size", true, "batch"),
    SEQUENCE_LENGTH("sequence_length", true, "sequence"),
    PAST_SEQUENCE_LENGTH("past_sequence_length", true, "past"),
    VOCAB_SIZE("vocab_size", false, "config.vocabSize()"),
    HIDDEN_SIZE("hidden_size", false, "config.hiddenSize()"),
    NUM_ATTENTION_HEADS("num_attention_heads", false, "config.numAttentionHeads()"),
    NUM_KEY_VALUE_HEADS("num_key_value_heads", false, "config.numKeyValueHeads()"),
    HEAD_DIM("head_dim", false, "config.headDim()");

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

    static Optional<AxisSymbol> of(String symbol) {
        return Arrays.stream(values()).filter(s -> s.symbol.equals(symbol)).findFirst();
    }

    /** The vocabulary, for error messages. */
    static String knownList() {
        return Arrays.stream(values()).map(AxisSymbol::symbol).collect(Collectors.joining(", "));
    }
}
