package dev.stepwise.cli;

import dev.stepwise.runtime.onnx.passes.ModelInspection;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print an ONNX file's opsets, inputs and outputs, op counts, whether every tensor is static,"
                + " initializer bytes and external data files.")
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE.onnx")
    Path file;

    @Override
    public Integer call() {
        System.out.print(ModelInspection.of(file).format());
        return 0;
    }
}
