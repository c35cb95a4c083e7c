package dev.stepwise.runtime.export;

import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.search.SearchKind;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The whole-generation graphs an export can write next to {@code model.onnx} ({@code export --generation ...}). */
public enum GenerationGraph {
    /** {@code model_loop.onnx}: the decoder inside an ONNX Loop, greedy and seeded sampling, standard ops only. */
    LOOP("loop"),
    /** {@code model_beam_search.onnx}: ONNX Runtime's com.microsoft BeamSearch around the decoder. */
    BEAM_SEARCH("beam-search"),
    /** {@code model_greedy_search.onnx}: ONNX Runtime's GreedySearch. */
    GREEDY_SEARCH("greedy-search"),
    /** {@code model_sampling.onnx}: ONNX Runtime's Sampling. */
    SAMPLING("sampling");

    private final String cliName;

    GenerationGraph(String cliName) {
        this.cliName = cliName;
    }

    /**
     * The graph's name on the command line ({@code export --generation loop,beam-search}).
     *
     * @return {@code loop}, {@code beam-search}, {@code greedy-search} or {@code sampling}
     */
    public String cliName() {
        return cliName;
    }

    /**
     * The file the graph is written to next to {@code model.onnx}.
     *
     * @return {@code model_loop.onnx}, {@code model_beam_search.onnx}, {@code model_greedy_search.onnx} or
     *         {@code model_sampling.onnx}
     */
    public String fileName() {
        return this == LOOP ? LoopGraphBuilder.FILE
                : SearchKind.fromCliName(cliName).fileName();
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
            GenerationGraph found = null;
            for (GenerationGraph g : values()) {
                if (g.cliName.equals(name)) {
                    found = g;
                }
            }
            if (found == null) {
                throw new IllegalArgumentException("unknown generation graph '" + part.trim()
                        + "' (expected loop, beam-search, greedy-search or sampling)");
            }
            out.add(found);
        }
        return out;
    }
}
