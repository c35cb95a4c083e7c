package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.KeyValueCache;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Task;
import dev.stepwise.annotations.TensorSpec;
import dev.stepwise.runtime.model.ModelConfig;

/**
 * Mistral checkpoints ({@code MistralForCausalLM}): LLaMA's layout and forward ({@link LlamaFamily}) with
 * {@code sliding_window}: when set, each query sees only the last {@code sliding_window} positions, itself included,
 * across the KV cache as well. The cache keeps every position (as transformers' dynamic cache does); only the mask
 * changes.
 */
@OnnxConfig(modelType = "mistral", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 14, atol = 1e-4,
        config = @ConfigKeys(numLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads",
                numKeyValueHeads = "num_key_value_heads", hiddenSize = "hidden_size", vocabSize = "vocab_size",
                maxPositions = "max_position_embeddings"),
        inputs = {
            @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
            @TensorSpec(name = "attention_mask", type = DType.INT64,
                    axes = {"batch_size", "past_sequence_length + sequence_length"}),
            @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
        cache = @KeyValueCache(past = "past_key_values.{layer}.{kind}", present = "present.{layer}.{kind}",
                axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
        outputs = @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"}))
public final class Mistral extends LlamaFamily {

    @Override
    int slidingWindow(ModelConfig config) {
        return config.getInt("sliding_window", 0);
    }
}
