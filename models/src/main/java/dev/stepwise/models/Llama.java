package dev.stepwise.models;

import dev.stepwise.annotations.ConfigKeys;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.KeyValueCache;
import dev.stepwise.annotations.OnnxConfig;
import dev.stepwise.annotations.Task;
import dev.stepwise.annotations.TensorSpec;
import dev.stepwise.runtime.model.ModelConfig;

/**
 * LLaMA, as transformers' {@code LlamaForCausalLM} computes it (see {@link LlamaFamily} for the forward): RMSNorm,
 * rotary embeddings with {@code rope_scaling} linear / dynamic / llama3, grouped-query attention whose cache holds the
 * key/value heads only, SwiGLU MLP, optional {@code attention_bias} / {@code mlp_bias}, optionally tied LM head.
 */
@OnnxConfig(modelType = "llama", tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST}, opset = 14, atol = 1e-4,
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
public final class Llama extends LlamaFamily {

    /** LLaMA attends to the whole causal past. */
    @Override
    int slidingWindow(ModelConfig config) {
        return 0;
    }
}
