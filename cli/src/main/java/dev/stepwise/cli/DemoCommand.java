package dev.stepwise.cli;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.io.OutputFolder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job on an embedded default: a tiny random GPT-2 checkpoint is generated, exported, validated against the
 * PyTorch reference, and used to generate a left-padded batch, which is checked row by row against each row alone.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Generate a tiny GPT-2 checkpoint, export + validate it, and generate with it.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to keep the files (default: a temporary folder, removed after).")
    Path workDir;

    @Option(names = "--max-new-tokens", defaultValue = "12")
    int maxNewTokens;

    @Override
    public Integer call() throws IOException {
        boolean temporary = workDir == null;
        Path work = temporary ? Files.createTempDirectory("stepwise-demo-") : workDir;
        try {
            Path checkpoint = work.resolve("gpt2-tiny-checkpoint");
            Path exported = work.resolve("gpt2-tiny-onnx");
            if (Files.exists(checkpoint)) {
                OutputFolder.deleteRecursively(checkpoint);
            }

            System.err.println("[1/3] random-checkpoint: tiny GPT-2 (seed 0) -> " + checkpoint);
            RandomCheckpoint.write("gpt2", "tiny", checkpoint, 0);

            System.err.println("[2/3] export: KV-cache decoder, validated against the PyTorch engine -> " + exported);
            ExportResult result = Exporter.export(checkpoint, exported,
                    ExportOptions.defaults().withProgress(new ConsoleProgress()));
            ExportCommand.printSummary(result);

            System.err.println("[3/3] generate: greedy, left-padded batch of 3 prompts, " + maxNewTokens + " new tokens");
            List<long[]> prompts = List.of(new long[] {5, 17, 42, 8, 311, 9}, new long[] {99, 3}, new long[] {640, 1, 77});
            try (ExportedModel model = ExportedModel.open(exported, 0)) {
                Generator generator = new Generator(model);
                List<long[]> batch = generator.greedy(prompts, maxNewTokens);
                boolean same = true;
                for (int r = 0; r < prompts.size(); r++) {
                    long[] alone = generator.greedy(List.of(prompts.get(r)), maxNewTokens).get(0);
                    boolean rowSame = Arrays.equals(alone, batch.get(r));
                    same &= rowSame;
                    System.out.println(GenerateCommand.join(batch.get(r)));
                    System.err.printf("  row %d: %d prompt + %d new tokens; same as generating the row alone: %s%n", r,
                            prompts.get(r).length, batch.get(r).length - prompts.get(r).length, rowSame ? "yes" : "NO");
                }
                if (!same) {
                    throw new dev.stepwise.runtime.StepwiseException("demo: a padded row generated different tokens than alone");
                }
            }
            System.err.println("demo finished: export validated, padded batch matches unpadded rows");
            return 0;
        } finally {
            if (temporary) {
                OutputFolder.deleteRecursively(work);
            }
        }
    }
}
