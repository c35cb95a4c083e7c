package dev.stepwise.runtime.search;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.util.CliNames;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The three whole-generation operators of ONNX Runtime's {@code com.microsoft} domain. Each runs a decoder subgraph
 * in a loop inside one {@code session.run}; they differ in how the next token is chosen and in their inputs.
 */
public enum SearchKind {
    /** {@code BeamSearch}: {@code num_beams} hypotheses per prompt, {@code num_return_sequences} of them returned. */
    BEAM_SEARCH,
    /** {@code GreedySearch}: the most likely token every step. */
    GREEDY_SEARCH,
    /** {@code Sampling}: temperature and top-p (nucleus) sampling with ONNX Runtime's own random generator. */
    SAMPLING;

    /** The operator's type in the {@code com.microsoft} domain: the name in PascalCase ({@code BeamSearch}, ...). */
    public String opType() {
        return Arrays.stream(name().split("_"))
                .map(word -> word.charAt(0) + word.substring(1).toLowerCase(Locale.ROOT))
                .collect(Collectors.joining());
    }

    /** The name used on the command line ({@code --generation beam-search}). */
    public String cliName() {
        return CliNames.of(this);
    }

    /** The file the graph is written to next to {@code model.onnx}: {@code model_beam_search.onnx}, ... */
    public String fileName() {
        return "model_" + name().toLowerCase(Locale.ROOT) + ".onnx";
    }

    /** {@code BeamSearch} returns {@code [batch, num_return_sequences, max_length]}, the others {@code [batch, max_length]}. */
    public boolean returnsSeveralPerPrompt() {
        return this == BEAM_SEARCH;
    }

    public static SearchKind fromCliName(String name) {
        String cliName = name.toLowerCase(Locale.ROOT).replace('_', '-'); // BEAM_SEARCH is accepted too
        return CliNames.find(SearchKind.class, cliName).orElseThrow(() -> new StepwiseException(
                "unknown search graph '" + name + "' (expected " + CliNames.choices(SearchKind.class) + ")"));
    }

    /**
     * The graph that carries out a generation request: sampling when it samples, beam search when it asks for more
     * than one beam, else greedy search. Beam sampling has no operator.
     */
    public static SearchKind forConfig(GenerationConfig config) {
        if (config.doSample()) {
            if (config.numBeams() > 1) {
                throw new StepwiseException("ONNX Runtime has no beam-sampling operator: use --num-beams 1 with sampling,"
                        + " or beam search without sampling");
            }
            return SAMPLING;
        }
        return config.numBeams() > 1 ? BEAM_SEARCH : GREEDY_SEARCH;
    }
}
