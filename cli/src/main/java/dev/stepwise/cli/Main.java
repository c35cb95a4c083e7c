package dev.stepwise.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HubCache;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code stepwise} command line. Exit status: 0 success, 2 bad usage, 1 failure; errors are one line on stderr,
 * results on stdout.
 */
@Command(name = "stepwise", mixinStandardHelpOptions = true, version = "stepwise 0.1.0",
        description = "Export text-generation checkpoints to ONNX, validated against PyTorch, and run them.",
        subcommands = {ExportCommand.class, GenerateCommand.class, RandomCheckpointCommand.class,
            UnrollCommand.class,
            SimplifyCommand.class,
            InspectCommand.class,
            BenchCommand.class,
            QuantizeCommand.class,
            PipelineCommand.class,
            DemoCommand.class})
public final class Main implements Runnable {
    private final Map<String, String> env;

    private Main(Map<String, String> env) {
        this.env = env;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit status (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return run(System.getenv(), args);
    }

    /**
     * Runs the CLI with {@code env} standing for the environment variables it reads ({@code HF_HUB_CACHE},
     * {@code HF_HOME}), so tests can point it at a cache of their own.
     */
    public static int run(Map<String, String> env, String... args) {
        System.setProperty("ai.djl.offline", "true");
        CommandLine cli = new CommandLine(new Main(env));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + describe(e));
            if (Boolean.getBoolean("stepwise.debug")) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        cli.setParameterExceptionHandler((e, args1) -> {
            e.getCommandLine().getErr().println("error: " + e.getMessage());
            e.getCommandLine().getErr().println("(see 'stepwise " + e.getCommandLine().getCommandName() + " --help')");
            return 2;
        });
        if (args.length == 0) {
            cli.usage(cli.getErr());
            return 2;
        }
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            cli.getErr().println("error: " + describe(e));
            return 1;
        }
    }

    /**
     * A {@code --model} argument as a folder: an existing path as is, else a Hugging Face id
     * ({@code org/name[@revision]}) from the local cache (see {@link HubCache}), else the path for the command to report.
     */
    Path locateModel(Path argument) {
        return HubCache.fromEnvironment(env, Path.of(System.getProperty("user.home"))).locate(argument.toString());
    }

    static String describe(Throwable e) {
        String memory = OutOfMemory.describe(e);
        if (memory != null) {
            return memory;
        }
        if (e instanceof StepwiseException) {
            return oneLine(e.getMessage());
        }
        if (e instanceof CommandLine.ParameterException) {
            return oneLine(e.getMessage());
        }
        return oneLine(e.getClass().getSimpleName() + ": " + e.getMessage());
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }
}
