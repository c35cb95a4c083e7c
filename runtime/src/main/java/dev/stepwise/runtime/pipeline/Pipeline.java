package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonElement;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.StepwiseException;
import java.nio.file.Path;
import java.util.List;

/**
 * A task run end to end on an exported folder: text in, tokenized through the folder's {@code tokenizer.json}, padded
 * in batches as its tokenizer config says, ONNX Runtime on {@code model.onnx}, results out — like transformers'
 * {@code pipeline(task, model=folder)}. Any folder in optimum's encoder layout works (a Stepwise export or
 * optimum's own); text-generation takes a decoder export ({@link TextGenerationPipeline}), text2text-generation a
 * seq2seq export ({@link Text2TextGenerationPipeline}). Each task's
 * class has typed methods ({@link FeatureExtractionPipeline#embed}, ...); {@link #apply} gives every task's results
 * as JSON, one element per input, as the CLI prints them.
 *
 * <pre>{@code
 * try (Pipeline p = Pipeline.open(Task.FEATURE_EXTRACTION, Path.of("out"), PipelineOptions.defaults())) {
 *     List<JsonElement> results = p.apply(List.of("A sentence.", "Another one."));
 * }
 * }</pre>
 *
 * <p>Instances hold an ONNX Runtime session: close them. One instance may be used by one thread at a time.
 */
public interface Pipeline extends AutoCloseable {

    Task task();

    /** One JSON result per input, in input order. */
    List<JsonElement> apply(List<String> inputs);

    @Override
    void close();

    /** Opens {@code folder} for {@code task}; a one-line error when the folder's model cannot serve it. */
    static Pipeline open(Task task, Path folder, PipelineOptions options) {
        return switch (task) {
            case FEATURE_EXTRACTION -> new FeatureExtractionPipeline(folder, options);
            case TEXT_CLASSIFICATION -> new TextClassificationPipeline(folder, options);
            case FILL_MASK -> new FillMaskPipeline(folder, options);
            case TEXT_GENERATION -> new TextGenerationPipeline(folder, options);
            case TEXT2TEXT_GENERATION -> new Text2TextGenerationPipeline(folder, options);
            default -> throw new StepwiseException("pipeline " + task.cliName() + " is not available (expected"
                    + " feature-extraction, text-classification, fill-mask, text-generation or"
                    + " text2text-generation)");
        };
    }
}
