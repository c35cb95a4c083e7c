package dev.stepwise.runtime.export;

import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.search.SearchKind;
import dev.stepwise.runtime.util.CliNames;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The whole-generation graphs an export can write next to {@code model.onnx} ({@code export --generation ...}). */
public enum GenerationGraph {
    /** {@code model_loop.onnx}: the decoder inside an ONNX Loop, greedy and seeded sampling, standard ops only. */
    LOOP,
    /** {@code model_beam_search.onnx}: ONNX Runtime's com.microsoft BeamSearch around the decoder. */
    BEAM_SEARCH,
    /** {@code model_greedy_search.onnx}: ONNX Runtime's GreedySearch. */
    GREEDY_SEARCH,
    /** {@code model_sampling.onnx}: ONNX Runtime's Sampling. */
    SAMPLING;

    /**
     * The graph's name on the command line ({@code export --generation loop,beam-search}).
     *
     * @return {@code loop}, {@code beam-search}, {@code greedy-search} or {@code sampling}
     */
    public String cliName() {
        return CliNames.of(this);
    }

    /**
     * The file the graph is written to next to {@code model.onnx}.
     *
     * @return {@code model_loop.onnx}, {@code model_beam_search.onnx}, {@code model_greedy_search.onnx} or
     *         {@code model_sampling.onnx}
     */
    public String fileName() {
        return this == LOOP ? LoopGraphBuilder.FILE : SearchKind.valueOf(name()).fileName();
    }

    /**
     * Parses a comma-separated list of command-line names such as {@code loop,beam-search}; blanks and case are
     * ignored.
     *
     * @param list the names, separated by commas
     * @return the graphs named, possibly none
     * @throws IllegalArgumentException naming the unknown part and the choices, for a name that is not a graph's
     */
    public static Set<GenerationGraph> parseList(String list) {
        Set<GenerationGraph> out = EnumSet.noneOf(GenerationGraph.class);
        for (String part : list.split(",")) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if (name.isEmpty()) {
                continue;
            }
            out.add(CliNames.find(GenerationGraph.class, name).orElseThrow(() ->
                    CliNames.unknown(GenerationGraph.class, "generation graph", part.trim())));
        }
        return out;
    }
}
