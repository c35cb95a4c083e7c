package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonObject;

/**
 * Pipeline settings. {@code pooling} and {@code normalize} (feature-extraction) are null for "as the folder says":
 * a sentence-transformers folder's {@code 1_Pooling/config.json} and {@code modules.json} (a {@code Normalize}
 * module), else mean pooling without normalisation. {@code topK}: fill-mask candidates per mask. {@code batchSize}:
 * texts per ONNX Runtime run (each batch padded to its longest text). {@code threads}: 0 = one per core.
 * {@code configTask} (text2text-generation): a key of config.json's {@code task_specific_params} ({@code
 * summarization}, {@code translation_en_to_de}, ...) whose prefix and generation settings apply, as in transformers'
 * pipeline for that task; null for none. {@code generation} (text-generation, text2text-generation): settings as
 * {@code generation_config.json} spells them ({@code max_new_tokens}, {@code do_sample}, ...) that override the
 * pipeline's defaults and the folder's, as keyword arguments to transformers' pipeline call do; empty for none.
 */
public record PipelineOptions(Pooling pooling, Boolean normalize, int topK, int batchSize, int threads,
                              String configTask, JsonObject generation) {
    public PipelineOptions {
        generation = generation == null ? new JsonObject() : generation.deepCopy();
        if (topK < 1) {
            throw new IllegalArgumentException("topK must be >= 1, got " + topK);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
    }

    public static PipelineOptions defaults() {
        return new PipelineOptions(null, null, 5, 32, 0, null, null);
    }

    public PipelineOptions withPooling(Pooling p) {
        return new PipelineOptions(p, normalize, topK, batchSize, threads, configTask, generation);
    }

    public PipelineOptions withNormalize(Boolean n) {
        return new PipelineOptions(pooling, n, topK, batchSize, threads, configTask, generation);
    }

    public PipelineOptions withTopK(int k) {
        return new PipelineOptions(pooling, normalize, k, batchSize, threads, configTask, generation);
    }

    public PipelineOptions withBatchSize(int b) {
        return new PipelineOptions(pooling, normalize, topK, b, threads, configTask, generation);
    }

    public PipelineOptions withThreads(int t) {
        return new PipelineOptions(pooling, normalize, topK, batchSize, t, configTask, generation);
    }

    public PipelineOptions withConfigTask(String task) {
        return new PipelineOptions(pooling, normalize, topK, batchSize, threads, task, generation);
    }

    public PipelineOptions withGeneration(JsonObject settings) {
        return new PipelineOptions(pooling, normalize, topK, batchSize, threads, configTask, settings);
    }

    /** A copy: the record's own object is not handed out. */
    @Override
    public JsonObject generation() {
        return generation.deepCopy();
    }
}
