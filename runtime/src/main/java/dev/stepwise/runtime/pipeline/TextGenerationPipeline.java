package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.LanguageModel;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.generate.GenerationConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * text-generation on a decoder export (or a quantized or unrolled one: anything {@link Stepwise#open} opens), as
 * transformers' text-generation pipeline does: each text is tokenized through the folder's {@code tokenizer.json} and
 * continued; the result is the text followed by the decoded new tokens (transformers' {@code return_full_text}
 * default), special tokens skipped. Generation settings are the pipeline's defaults ({@code max_new_tokens} 256,
 * {@code do_sample} true, {@code temperature} 0.7) under the folder's {@code generation_config.json}
 * ({@link PipelineSettings}), under the call's {@link PipelineOptions#generation()}. Texts run one at a time, as the
 * transformers pipeline runs them by default, so {@code max_length} counts each text's own tokens.
 */
public final class TextGenerationPipeline implements Pipeline {
    private final LanguageModel model;
    private final GenerationConfig.Builder settings;

    public TextGenerationPipeline(Path folder, PipelineOptions options) {
        JsonObject defaults = new JsonObject();
        defaults.addProperty("max_new_tokens", 256);
        defaults.addProperty("do_sample", true);
        defaults.addProperty("temperature", 0.7);
        this.settings = PipelineSettings.withCallSettings(PipelineSettings.of(folder, defaults), options);
        this.model = Stepwise.open(folder, options.threads());
    }

    @Override
    public Task task() {
        return Task.TEXT_GENERATION;
    }

    /** Per text, its generated texts (the text itself first), {@code num_return_sequences} of them, best first. */
    public List<List<String>> generate(List<String> texts) {
        List<List<String>> out = new ArrayList<>();
        for (String text : texts) {
            long[] ids = model.encode(text);
            List<String> decoded = new ArrayList<>();
            for (long[] sequence : model.generate(List.of(ids), settings.build(ids.length)).get(0)) {
                decoded.add(text + model.decode(Arrays.copyOfRange(sequence, ids.length, sequence.length)));
            }
            out.add(decoded);
        }
        return out;
    }

    /** {@code [{"generated_text": ...}, ...]} per text, one object per returned sequence, as transformers prints it. */
    @Override
    public List<JsonElement> apply(List<String> inputs) {
        return PipelineSettings.generatedTexts(generate(inputs), false);
    }

    @Override
    public void close() {
        model.close();
    }
}
