package dev.stepwise.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The PyTorch engine's prefill estimate: its size by formula, and the refusal only past the machine's memory. */
class TorchMemoryTest {
    private static final ConfigKeyMap KEYS = new ConfigKeyMap("num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_size", "vocab_size", "max_position_embeddings", "", "", "");

    /** Llama-3.2-1B's shape: 16 layers, 32 heads, hidden 2048, intermediate 8192. */
    private static ModelConfig llama1b() {
        JsonObject c = new JsonObject();
        c.addProperty("num_hidden_layers", 16);
        c.addProperty("num_attention_heads", 32);
        c.addProperty("num_key_value_heads", 8);
        c.addProperty("hidden_size", 2048);
        c.addProperty("intermediate_size", 8192);
        c.addProperty("vocab_size", 128256);
        c.addProperty("max_position_embeddings", 131072);
        return ModelConfig.of(Path.of("config.json"), c, KEYS);
    }

    @Test
    void estimateIsTheWeightsOneLayersScoresAndEveryLayersActivations() {
        long weights = 4_943_000_000L;
        long scores = 10L * 32 * 1024 * 1024 * 4;                 // ten [1, 32, 1024, 1024] float tensors
        long activations = 1024L * (8 * 2048 + 3 * 8192) * 4;
        assertEquals(weights + scores + 16 * activations, TorchMemory.prefillBytes(llama1b(), weights, 1, 1024));
    }

    @Test
    void refusesOnlyWhatExceedsTheMachine() {
        assertNull(TorchMemory.tooLarge(llama1b(), 4_943_000_000L / 100, 1, 8), "8 tokens fit anywhere");
        String why = TorchMemory.tooLarge(llama1b(), 4_943_000_000L, 8, 65536);
        assertNotNull(why, "8 rows of 65536 tokens need petabytes of scores");
        assertTrue(why.startsWith("PyTorch engine not measured: its eager prefill of 65536 tokens x 8 rows needs"), why);
    }
}
