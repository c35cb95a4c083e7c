package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * text2text-generation on a seq2seq export ({@link Seq2SeqModel}), as transformers' text2text-generation pipeline did
 * (its last version, 4.53; transformers 5 removed it): each text gets the prefix — the chosen
 * {@link PipelineOptions#configTask()} entry's {@code prefix} in config.json's {@code task_specific_params}, else
 * config.json's top-level {@code prefix}, else none — is tokenized through the folder's {@code tokenizer.json} and
 * generated for; the result is the first decoded sequence, special tokens skipped. Generation settings are the
 * pipeline's defaults ({@code max_new_tokens} 256, {@code num_beams} 4) under the folder's
 * {@code generation_config.json} ({@link PipelineSettings}), under the chosen task entry's settings, under the
 * call's {@link PipelineOptions#generation()}; {@code max_length} counts decoder tokens,
 * {@code decoder_start_token_id} included, as transformers counts them for an encoder-decoder.
 */
public final class Text2TextGenerationPipeline implements Pipeline {
    /** transformers 4.53's text2text pipeline defaults, under what the model's generation config sets. */
    private static final int DEFAULT_MAX_NEW_TOKENS = 256;
    private static final int DEFAULT_NUM_BEAMS = 4;

    private final Seq2SeqModel model;
    private final TextTokenizer tokenizer;
    private final String prefix;
    private final GenerationConfig generation;
    private final int batchSize;

    public Text2TextGenerationPipeline(Path folder, PipelineOptions options) {
        Path configFile = folder.resolve("config.json");
        JsonObject config = ModelConfig.readJson(configFile);
        JsonObject task = taskEntry(config, configFile, options.configTask());
        String p = string(config, "prefix", configFile);
        if (task.has("prefix")) {
            p = string(task, "prefix", configFile);
            task.remove("prefix");
        }
        this.prefix = p == null ? "" : p;
        JsonObject defaults = new JsonObject();
        defaults.addProperty("num_beams", DEFAULT_NUM_BEAMS);
        defaults.addProperty("max_new_tokens", DEFAULT_MAX_NEW_TOKENS);
        this.generation = PipelineSettings.withCallSettings(PipelineSettings.of(folder, defaults)
                .overriddenBy(GenerationConfig.Builder.fromJson(task, configFile)), options)
                .build(1); // the decoder's prompt: decoder_start_token_id
        this.batchSize = options.batchSize();
        this.tokenizer = TextTokenizer.open(folder);
        try {
            this.model = Seq2SeqModel.open(folder, Seq2SeqModel.Decoder.OPTIMUM, options.threads());
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    @Override
    public Task task() {
        return Task.TEXT2TEXT_GENERATION;
    }

    /** The text each input is prefixed with ("" for none). */
    public String prefix() {
        return prefix;
    }

    /** Per text, its generated texts ({@code num_return_sequences} of them, best first). */
    public List<List<String>> generate(List<String> texts) {
        List<List<String>> out = new ArrayList<>();
        for (int start = 0; start < texts.size(); start += batchSize) {
            List<long[]> rows = new ArrayList<>();
            for (String text : texts.subList(start, Math.min(texts.size(), start + batchSize))) {
                rows.add(tokenizer.encode(prefix + text));
            }
            for (List<long[]> sequences : model.generate(rows, generation)) {
                List<String> decoded = new ArrayList<>();
                sequences.forEach(ids -> decoded.add(tokenizer.decode(ids)));
                out.add(decoded);
            }
        }
        return out;
    }

    /** {@code {"generated_text": ...}} per text; an array of them when the config asks for several sequences. */
    @Override
    public List<JsonElement> apply(List<String> inputs) {
        return PipelineSettings.generatedTexts(generate(inputs), true);
    }

    /** A copy of config.json's task_specific_params entry for {@code name}; empty for none. */
    private static JsonObject taskEntry(JsonObject config, Path configFile, String name) {
        if (name == null) {
            return new JsonObject();
        }
        JsonElement all = config.get("task_specific_params");
        if (all == null || !all.isJsonObject()) {
            throw new StepwiseException(configFile + ": no task_specific_params, so no settings for task '" + name
                    + "'");
        }
        JsonElement entry = all.getAsJsonObject().get(name);
        if (entry == null || !entry.isJsonObject()) {
            throw new StepwiseException(configFile + ": task_specific_params has no entry '" + name + "' (has "
                    + all.getAsJsonObject().keySet() + ")");
        }
        return entry.getAsJsonObject().deepCopy();
    }

    private static String string(JsonObject json, String key, Path file) {
        JsonElement e = json.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new StepwiseException(file + ": " + key + " is " + e + ", expected a string");
        }
        return e.getAsString();
    }

    @Override
    public void close() {
        try {
            model.close();
        } finally {
            tokenizer.close();
        }
    }
}
