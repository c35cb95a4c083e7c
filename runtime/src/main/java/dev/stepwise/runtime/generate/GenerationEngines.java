package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.StepwiseException;
import java.util.Locale;

/**
 * The engines {@code generate --engine} can choose. {@code java} is always here; {@code loop} and
 * {@code beam-search} are wired in by the builds that have them (one line each in {@link #create}).
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
            case LOOP -> throw notAvailable(kind, "model_loop.onnx (export --generation loop)");
            case BEAM_SEARCH -> new dev.stepwise.runtime.search.SearchOpEngine();
        };
    }

    private static StepwiseException notAvailable(Kind kind, String what) {
        return new StepwiseException("engine '" + kind.cliName() + "' is not available in this build (it runs " + what
                + "); use --engine java");
    }
}
