package dev.stepwise.runtime.cli;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "random-checkpoint", mixinStandardHelpOptions = true,
        description = "Write a Hugging Face-layout checkpoint (config.json + model.safetensors) with random weights.")
final class RandomCheckpointCommand implements Callable<Integer> {
    @Option(names = "--arch", required = true, description = "Architecture (model_type), e.g. gpt2.")
    String arch;

    @Option(names = "--preset", defaultValue = "tiny", description = "Size preset: tiny (default) or a real size, e.g. gpt2.")
    String preset;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder to create.")
    Path output;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default 0).")
    long seed;

    @Override
    public Integer call() {
        RandomCheckpoint.write(arch, preset, output, seed);
        System.err.println("wrote random " + arch + " (" + preset + ") checkpoint");
        System.out.println(output.toAbsolutePath());
        return 0;
    }
}
