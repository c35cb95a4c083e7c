package dev.stepwise.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.pipeline.Pipeline;
import dev.stepwise.runtime.pipeline.PipelineOptions;
import dev.stepwise.runtime.pipeline.Pooling;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "Run a task on an exported encoder folder (a decoder folder for text-generation, a seq2seq"
                + " folder for text2text-generation): one"
                + " JSON result per input, one per line, on stdout.")
final class PipelineCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "TASK",
            description = "feature-extraction, text-classification, fill-mask, text-generation or"
                    + " text2text-generation.")
    String task;

    @ParentCommand
    Main main;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Exported folder (model.onnx, or a seq2seq set, + tokenizer.json).")
    Path model;

    @Mixin
    PipelineInputs inputs;

    @Option(names = "--pooling", paramLabel = "MODE",
            description = "feature-extraction: mean, cls or none (every token's vector); default: the folder's"
                    + " sentence-transformers pooling, else mean.")
    String pooling;

    @Option(names = "--normalize", negatable = true,
            description = "feature-extraction: L2-normalise the vectors (default: when the folder's modules.json has"
                    + " a Normalize module).")
    Boolean normalize;

    @Option(names = "--top-k", defaultValue = "5", description = "fill-mask: candidates per mask (default 5).")
    int topK;

    @Option(names = "--config-task", paramLabel = "NAME",
            description = "text2text-generation: an entry of config.json's task_specific_params (summarization,"
                    + " translation_en_to_de, ...) whose prefix and generation settings apply.")
    String configTask;

    @Option(names = "--generate", paramLabel = "KEY=VALUE",
            description = "text-generation, text2text-generation: a generation setting as generation_config.json"
                    + " names it (max_new_tokens=20, do_sample=false, num_beams=3, ...), over the pipeline's defaults"
                    + " and the folder's; repeatable.")
    List<String> generate = new ArrayList<>();

    @Option(names = "--batch-size", defaultValue = "32", description = "Texts per ONNX Runtime run (default 32).")
    int batchSize;

    @Mixin
    OrtThreadsOption threads;

    @Override
    public Integer call() {
        CommandLine cli = new CommandLine(this);
        List<String> texts = inputs.texts(cli);
        PipelineOptions options = Usage.parsed(cli, "", () -> PipelineOptions.defaults().withTopK(topK)
                .withBatchSize(batchSize).withThreads(threads.count).withNormalize(normalize)
                .withPooling(pooling == null ? null : Pooling.parse(pooling)).withConfigTask(configTask)
                .withGeneration(settings(cli, generate)));
        Gson gson = new GsonBuilder().disableHtmlEscaping().create();
        try (Pipeline p = Stepwise.pipeline(task, main.locateModel(model), options)) {
            for (JsonElement result : p.apply(texts)) {
                System.out.println(gson.toJson(result));
            }
        }
        return 0;
    }

    /** {@code KEY=VALUE} pairs as a JSON object: numbers and true/false as such, anything else as a string. */
    private static JsonObject settings(CommandLine cli, List<String> pairs) {
        JsonObject json = new JsonObject();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new CommandLine.ParameterException(cli, "--generate: expected KEY=VALUE, got '" + pair + "'");
            }
            String key = pair.substring(0, eq).trim();
            String value = pair.substring(eq + 1).trim();
            if (value.equals("true") || value.equals("false")) {
                json.addProperty(key, Boolean.parseBoolean(value));
            } else if (value.matches("-?[0-9]+")) {
                json.addProperty(key, Long.parseLong(value));
            } else if (value.matches("-?[0-9]*\\.[0-9]+([eE]-?[0-9]+)?")) {
                json.addProperty(key, Double.parseDouble(value));
            } else {
                json.addProperty(key, value);
            }
        }
        return json;
    }
}
