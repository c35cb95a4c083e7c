package dev.stepwise.annotations;

/** The export tasks an architecture supports, named as optimum names them. */
public enum Task {
    /** Logits only: no past inputs, no present outputs. */
    TEXT_GENERATION("text-generation"),
    /** The KV-cache decoder: past inputs and present outputs; an empty past is prefill. */
    TEXT_GENERATION_WITH_PAST("text-generation-with-past"),
    /** Encoder-only: the last hidden states {@code [batch_size, sequence_length, hidden_size]} (BertModel). */
    FEATURE_EXTRACTION("feature-extraction"),
    /** Encoder-only: one row of class logits per input, {@code [batch_size, num_labels]}. */
    TEXT_CLASSIFICATION("text-classification"),
    /** Encoder-only: vocabulary logits at every position, {@code [batch_size, sequence_length, vocab_size]}. */
    FILL_MASK("fill-mask"),
    /** Encoder-decoder: optimum's encoder, decoder and decoder-with-past graphs ({@code @Seq2SeqConfig}). */
    TEXT2TEXT_GENERATION("text2text-generation");

    private final String cliName;

    Task(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The task's name as optimum and the command line spell it.
     *
     * @return {@code text-generation} or {@code text-generation-with-past}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * Whether this is a task of an encoder-only graph.
     *
     * @return true for feature-extraction, text-classification and fill-mask
     */
    public boolean isEncoderTask() {
        return this == FEATURE_EXTRACTION || this == TEXT_CLASSIFICATION || this == FILL_MASK;
    }

    /**
     * The task a command line names.
     *
     * @param name {@code text-generation}, {@code text-generation-with-past}, {@code feature-extraction},
     *             {@code text-classification} or {@code fill-mask}
     * @return the task
     * @throws IllegalArgumentException naming the choices, for any other name
     */
    public static Task fromCliName(String name) {
        for (Task t : values()) {
            if (t.cliName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown task '" + name + "' (expected text-generation,"
                + " text-generation-with-past, feature-extraction, text-classification, fill-mask or"
                + " text2text-generation)");
    }
}
