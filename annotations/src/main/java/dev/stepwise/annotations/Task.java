package dev.stepwise.annotations;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The export tasks an architecture supports, named as optimum names them. */
public enum Task {
    /** Logits only: no past inputs, no present outputs. */
    TEXT_GENERATION,
    /** The KV-cache decoder: past inputs and present outputs; an empty past is prefill. */
    TEXT_GENERATION_WITH_PAST,
    /** Encoder-only: the last hidden states {@code [batch_size, sequence_length, hidden_size]} (BertModel). */
    FEATURE_EXTRACTION,
    /** Encoder-only: one row of class logits per input, {@code [batch_size, num_labels]}. */
    TEXT_CLASSIFICATION,
    /** Encoder-only: vocabulary logits at every position, {@code [batch_size, sequence_length, vocab_size]}. */
    FILL_MASK,
    /** Encoder-decoder: optimum's encoder, decoder and decoder-with-past graphs ({@code @Seq2SeqConfig}). */
    TEXT2TEXT_GENERATION;

    /**
     * The task's name as optimum and the command line spell it.
     *
     * @return the constant's name lower-cased with {@code -} for {@code _}: {@code text-generation},
     *         {@code text-generation-with-past}, ...
     */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
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
        List<String> names = Arrays.stream(values()).map(Task::cliName).toList();
        int i = names.indexOf(name);
        if (i < 0) {
            int last = names.size() - 1;
            throw new IllegalArgumentException("unknown task '" + name + "' (expected "
                    + String.join(", ", names.subList(0, last)) + " or " + names.get(last) + ")");
        }
        return values()[i];
    }
}
