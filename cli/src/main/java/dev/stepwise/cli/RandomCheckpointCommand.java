package dev.stepwise.cli;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "random-checkpoint", mixinStandardHelpOptions = true,
        description = "Write a Hugging Face-layout checkpoint (config.json + model.safetensors) with random weights.")
final class RandomCheckpointCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--arch", required = true, description = "Architecture (model_type), e.g. gpt2.")
    String arch;

    @Option(names = "--preset", defaultValue = "tiny", description = "Size preset: tiny (default) or a real size, e.g. gpt2.")
    String preset;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Folder to create.")
    Path output;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default 0).")
    long seed;

    @Option(names = "--dtype", defaultValue = "fp32",
            description = "Stored weight type: fp32 (default), fp16 or bf16 (as save_pretrained writes a bf16 model).")
    String dtype;

    @Override
    public Integer call() {
        SafetensorsDtype stored = switch (dtype) {
            case "fp32", "float32" -> SafetensorsDtype.F32;
            case "fp16", "float16" -> SafetensorsDtype.F16;
            case "bf16", "bfloat16" -> SafetensorsDtype.BF16;
            default -> throw new ParameterException(spec.commandLine(), "--dtype: expected fp32, fp16 or bf16, got '"
                    + dtype + "'");
        };
        RandomCheckpoint.write(arch, preset, output, seed, stored, new ConsoleProgress());
        System.err.println("wrote random " + arch + " (" + preset + ", " + dtype + ") checkpoint");
        System.out.println(output.toAbsolutePath());
        return 0;
    }
}
