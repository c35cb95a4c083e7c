package dev.stepwise.cli;

import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import dev.stepwise.runtime.quantize.Quantizer;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code --quantize MODE} of the commands that write a float folder and can quantize it as their last step (export, unroll). */
final class QuantizeLastOption {
    @Option(names = "--quantize", paramLabel = "MODE",
            description = "Quantize the checked float folder as the last step: int8, int4 or int8-static (the quantize"
                    + " command's defaults, int8-static on its built-in calibration set; gated against the float folder,"
                    + " which is not kept; weights shared between graphs stay one file).")
    String name;

    /** The mode asked for, null without {@code --quantize}; a bad one is a usage error. */
    QuantizeMode mode(CommandLine cli) {
        return name == null ? null : QuantizeCommand.mode(cli, "--quantize", name);
    }

    /**
     * {@code writeFloat} writes a folder, prints its report on stderr and returns the folder. Without a mode it writes
     * {@code output}; with one it writes a float folder that is then quantized into {@code output} with the mode's
     * defaults ({@link Quantizer#quantizeWritten}), the figures on stderr. Either way {@code output} goes to stdout.
     */
    static int write(Path output, QuantizeMode mode, UnaryOperator<Path> writeFloat) {
        if (mode == null) {
            System.out.println(writeFloat.apply(output));
            return 0;
        }
        QuantizeResult q = Quantizer.quantizeWritten(output, QuantizeOptions.defaults(mode), writeFloat::apply);
        QuantizeCommand.printSummary(q, System.err);
        System.out.println(q.outputDir());
        return 0;
    }
}
