package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.LlamaRandomLayout;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.RandomLayout;
import dev.stepwise.runtime.checkpoint.RandomTensor;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.model.layers.RotaryEmbedding;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every LLaMA/Mistral random preset, the real sizes included (without writing their weights), plans exactly the
 * tensors the forward expects, with the right shapes; the real sizes have their models' parameter counts.
 */
class LlamaRandomLayoutTest {

    @Test
    void everyPresetPlansExactlyTheExpectedTensors() {
        check(LlamaRandomLayout.llama(), new Llama(), new LlamaExporter().spec().configKeys());
        check(LlamaRandomLayout.mistral(), new Mistral(), new MistralExporter().spec().configKeys());
    }

    private static void check(RandomLayout layout, CausalLm model, dev.stepwise.runtime.model.ConfigKeyMap keys) {
        for (String preset : layout.presets()) {
            JsonObject json = layout.config(preset);
            assertEquals(layout.arch(), json.get("model_type").getAsString());
            ModelConfig config = ModelConfig.of(Path.of(layout.arch() + "-" + preset, "config.json"), json, keys);
            Map<String, long[]> planned = new HashMap<>();
            for (RandomTensor t : layout.tensors(json)) {
                planned.put(t.name(), t.shape());
            }
            int required = 0;
            for (WeightSpec w : model.expectedWeights(config)) {
                long[] shape = planned.get(w.name());
                if (shape == null) {
                    assertTrue(w.optional(), preset + ": " + w.name() + " is required but not planned");
                    continue;
                }
                assertArrayEquals(w.shape(), shape, preset + ": " + w.name());
                required++;
            }
            assertEquals(planned.size(), required, preset + ": every planned tensor is read by the forward");
            RotaryEmbedding.fromConfig(config);
        }
    }

    @Test
    void realSizesHaveTheirModelsParameterCounts() {
        assertEquals(1_100_048_384L, parameters(LlamaRandomLayout.llama(), "tinyllama"));     // TinyLlama-1.1B
        assertEquals(1_235_814_400L, parameters(LlamaRandomLayout.llama(), "llama-3.2-1b"));  // Llama-3.2-1B, tied
        assertEquals(7_241_732_096L, parameters(LlamaRandomLayout.mistral(), "mistral-7b"));  // Mistral-7B-v0.1
        assertTrue(RandomCheckpoint.presets("llama").containsAll(List.of("tiny", "tiny-gqa", "tiny-llama3", "tinyllama")));
        assertTrue(RandomCheckpoint.presets("mistral").contains("tiny"));
    }

    private static long parameters(RandomLayout layout, String preset) {
        long n = 0;
        for (RandomTensor t : layout.tensors(layout.config(preset))) {
            long size = 1;
            for (long d : t.shape()) {
                size *= d;
            }
            n += size;
        }
        return n;
    }
}
