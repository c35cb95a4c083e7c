package dev.stepwise.cli;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * Bad flag values as usage errors (exit 2, see {@link Main}): the runtime's parsers throw their own exceptions, and
 * every command reports them the same way.
 */
final class Usage {
    private Usage() {
    }

    /** What {@code parse} returns, or a usage error: {@code prefix} (the flag, or "" when the message names it) + its message. */
    static <T> T parsed(CommandLine cli, String prefix, Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException | StepwiseException e) {
            throw new ParameterException(cli, prefix + e.getMessage());
        }
    }

    /** The {@code --dtype} of an exported or benchmarked graph: fp32 or fp16. */
    static DType graphDtype(CommandLine cli, String dtype) {
        return switch (dtype) {
            case "fp32", "float32" -> DType.FLOAT;
            case "fp16", "float16" -> DType.FLOAT16;
            default -> throw new ParameterException(cli, "--dtype: expected fp32 or fp16, got '" + dtype + "'");
        };
    }
}
