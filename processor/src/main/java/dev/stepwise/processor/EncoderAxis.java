package dev.stepwise.processor;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The axis names an encoder graph's {@code @TensorSpec} may use: no past (an encoder has no cache) and no sums.
 * {@code sizeCode} is the Java expression generated dummy inputs use, over the parameters of
 * {@code create(ModelConfig config, int batch, int sequence, long seed)}.
 */
enum EncoderAxis {
    BATCH_SIZE("batch_size", true, "batch"),
    SEQUENCE_LENGTH("sequence_length", true, "sequence"),
    HIDDEN_SIZE("hidden_size", false, "config.hiddenSize()"),
    VOCAB_SIZE("vocab_size", false, "config.vocabSize()"),
    NUM_LABELS("num_labels", false, "config.numLabels()");

    private final String symbol;
    private final boolean dynamic;
    private final String sizeCode;

    EncoderAxis(String symbol, boolean dynamic, String sizeCode) {
        this.symbol = symbol;
        this.dynamic = dynamic;
        this.sizeCode = sizeCode;
    }

    String symbol() {
        return symbol;
    }

    boolean dynamic() {
        return dynamic;
    }

    String sizeCode() {
        return sizeCode;
    }

    static Optional<EncoderAxis> of(String symbol) {
        return Arrays.stream(values()).filter(s -> s.symbol.equals(symbol)).findFirst();
    }

    static String knownList() {
        return Arrays.stream(values()).map(EncoderAxis::symbol).collect(Collectors.joining(", "));
    }
}
