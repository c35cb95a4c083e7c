package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;
import java.util.Locale;

/**
 * The engines {@code generate --engine} can choose: {@code java} (the Java Generator on {@code model.onnx}),
 * {@code loop} ({@code model_loop.onnx}) and {@code beam-search} (ONNX Runtime's search operators).
 */
public final class GenerationEngines {
    /** The engine names, as the command line spells them. */
    public enum Kind {
        JAVA("java"), LOOP("loop"), BEAM_SEARCH("beam-search");

        private final String cliName;

        Kind(String cliName) {
            this.cliName = cliName;
        }

        public String cliName() {
            return cliName;
        }

        public static Kind parse(String name) {
            for (Kind k : values()) {
                if (k.cliName.equals(name.trim().toLowerCase(Locale.ROOT))) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown engine '" + name + "' (expected java, loop or beam-search)");
        }
    }

    private GenerationEngines() {
    }

    /** The engine, or a StepwiseException saying it is not available in this build. */
    public static GenerationEngine create(Kind kind, int threads, BeamOptions beamOptions,
                                          Generator.TokenListener listener) {
        return switch (kind) {
            case JAVA -> new JavaEngine(threads, beamOptions, listener);
            case LOOP -> new dev.stepwise.runtime.loop.LoopGenerationEngine(threads);
            case BEAM_SEARCH -> new dev.stepwise.runtime.search.SearchOpEngine();
        };
    }
}
