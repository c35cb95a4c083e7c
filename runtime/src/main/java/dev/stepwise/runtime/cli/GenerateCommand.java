package dev.stepwise.runtime.cli;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate with an exported model folder on ONNX Runtime (greedy, KV cache).")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "EXPORTED_DIR", description = "Folder written by 'stepwise export'.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "Text prompt (needs tokenizer.json).")
        String text;

        @Option(names = "--input-ids", paramLabel = "IDS", description = "Token ids: rows separated by ';', ids by ','.")
        String ids;
    }

    @Option(names = "--max-new-tokens", defaultValue = "20", description = "Maximum number of new tokens (default 20).")
    int maxNewTokens;

    @Option(names = "--print-ids", description = "Print ids (one line per row) instead of text.")
    boolean printIds;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads (default: all cores).")
    int threads;

    @Override
    public Integer call() {
        List<long[]> rows = prompt.ids != null ? parseIds(prompt.ids) : null;
        try (ExportedModel exported = ExportedModel.open(model, threads)) {
            TextTokenizer tokenizer = null;
            try {
                if (rows == null || !printIds) {
                    tokenizer = TextTokenizer.open(model);
                }
                if (rows == null) {
                    rows = List.of(tokenizer.encode(prompt.text));
                }
                List<long[]> out = new Generator(exported).greedy(rows, maxNewTokens);
                for (long[] row : out) {
                    System.out.println(printIds ? join(row) : tokenizer.decode(row));
                }
            } finally {
                if (tokenizer != null) {
                    tokenizer.close();
                }
            }
        }
        return 0;
    }

    List<long[]> parseIds(String text) {
        List<long[]> rows = new ArrayList<>();
        String[] parts = text.split(";", -1);
        for (int r = 0; r < parts.length; r++) {
            String row = parts[r].trim();
            if (row.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--input-ids: row " + r + " is empty");
            }
            String[] items = row.split(",");
            long[] ids = new long[items.length];
            for (int i = 0; i < items.length; i++) {
                try {
                    ids[i] = Long.parseLong(items[i].trim());
                } catch (NumberFormatException e) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "--input-ids: row " + r + ": '" + items[i].trim() + "' is not an integer token id");
                }
            }
            rows.add(ids);
        }
        return rows;
    }

    static String join(long[] row) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < row.length; i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(row[i]);
        }
        return sb.toString();
    }

    static void fail(String message) {
        throw new StepwiseException(message);
    }
}
