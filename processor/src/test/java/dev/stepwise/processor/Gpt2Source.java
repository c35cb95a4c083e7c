package dev.stepwise.processor;

import com.google.testing.compile.JavaFileObjects;
import javax.tools.JavaFileObject;

/**
 * A valid GPT-2 declaration, laid out one annotation value per line so a test can edit one value and expect the
 * error on that value's line. Edits replace text that must occur exactly once.
 */
final class Gpt2Source {
    static final String TEXT = """
            package test;

            import dev.stepwise.annotations.ConfigKeys;
            import dev.stepwise.annotations.DType;
            import dev.stepwise.annotations.KeyValueCache;
            import dev.stepwise.annotations.OnnxConfig;
            import dev.stepwise.annotations.Task;
            import dev.stepwise.annotations.TensorSpec;
            import dev.stepwise.runtime.model.CausalLm;
            import dev.stepwise.runtime.model.DecoderInputs;
            import dev.stepwise.runtime.model.KvCache;
            import dev.stepwise.runtime.model.ModelConfig;
            import dev.stepwise.runtime.model.WeightSpec;
            import dev.stepwise.runtime.ops.Ops;
            import dev.stepwise.runtime.ops.Tensor;
            import java.util.List;

            @OnnxConfig(
                modelType = "gpt2",
                tasks = {Task.TEXT_GENERATION, Task.TEXT_GENERATION_WITH_PAST},
                opset = 14,
                atol = 1e-4,
                config = @ConfigKeys(
                    numLayers = "n_layer",
                    numAttentionHeads = "n_head",
                    hiddenSize = "n_embd",
                    vocabSize = "vocab_size",
                    maxPositions = "n_positions"),
                inputs = {
                    @TensorSpec(name = "input_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"}),
                    @TensorSpec(name = "attention_mask", type = DType.INT64, axes = {"batch_size", "past_sequence_length + sequence_length"}),
                    @TensorSpec(name = "position_ids", type = DType.INT64, axes = {"batch_size", "sequence_length"})},
                cache = @KeyValueCache(
                    past = "past_key_values.{layer}.{kind}",
                    present = "present.{layer}.{kind}",
                    type = DType.FLOAT,
                    axes = {"batch_size", "num_key_value_heads", "past_sequence_length", "head_dim"}),
                outputs = {
                    @TensorSpec(name = "logits", type = DType.FLOAT, axes = {"batch_size", "sequence_length", "vocab_size"})})
            public final class Gpt2 implements CausalLm {
                @Override
                public Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache) {
                    return inputs.inputIds();
                }

                @Override
                public List<WeightSpec> expectedWeights(ModelConfig config) {
                    return List.of();
                }
            }
            """;

    private Gpt2Source() {
    }

    static JavaFileObject valid() {
        return JavaFileObjects.forSourceString("test.Gpt2", TEXT);
    }

    /** {@code TEXT} with {@code from} (which must occur exactly once) replaced by {@code to}. */
    static String replace(String text, String from, String to) {
        int at = text.indexOf(from);
        if (at < 0 || text.indexOf(from, at + 1) >= 0) {
            throw new IllegalArgumentException("expected exactly one \"" + from + "\" in the source");
        }
        return text.substring(0, at) + to + text.substring(at + from.length());
    }

    /** The 1-based line of the only line containing {@code marker}. */
    static int lineOf(String text, String marker) {
        String[] lines = text.split("\n", -1);
        int found = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(marker)) {
                if (found >= 0) {
                    throw new IllegalArgumentException("\"" + marker + "\" is on more than one line");
                }
                found = i + 1;
            }
        }
        if (found < 0) {
            throw new IllegalArgumentException("no line contains \"" + marker + "\"");
        }
        return found;
    }
}
