package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.quantize.Int4Scheme;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** quantize's int4 flags: the MatMulNBits blocks, and which other weights are stored as int4 blocks. */
final class Int4Flags {
    @Option(names = "--block-size", description = "int4: weights per block along K, a power of two from 16 to 256 (default 32).")
    Integer blockSize;

    @Option(names = "--accuracy-level", description = "int4: MatMulNBits accuracy_level, 0-4 (default 4: int8 activations, the fast CPU path).")
    Integer accuracyLevel;

    @Option(names = "--head-int4", description = "int4: the LM head in int4 blocks too (default: int8 dynamic, per channel;"
            + " an int4 head moves the next token most).")
    boolean headInt4;

    @Option(names = "--embedding-int4", description = "int4: also store embedding tables read by Gather as int4 blocks (GatherBlockQuantized).")
    boolean embeddingInt4;

    /** The scheme the flags ask for, unset ones at {@link Int4Scheme#DEFAULT}; a bad value is a usage error naming its flag. */
    Int4Scheme scheme(CommandLine cli, boolean symmetric) {
        try {
            return new Int4Scheme(blockSize != null ? blockSize : Int4Scheme.DEFAULT.blockSize(), symmetric,
                    accuracyLevel != null ? accuracyLevel : Int4Scheme.DEFAULT.accuracyLevel(), headInt4);
        } catch (StepwiseException e) {
            throw new CommandLine.ParameterException(cli, (e.getMessage().contains("block size") ? "--block-size: "
                    : "--accuracy-level: ") + e.getMessage());
        }
    }
}
