package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import java.nio.file.Path;

/**
 * {@code config.json}: the JSON itself, {@code model_type}, and every normalized value read with GPT-2's and
 * LLaMA's key names (one without, one with num_key_value_heads). Corpus: {@code ConfigJsonFuzzTestInputs/}.
 */
class ConfigJsonFuzzTest {
    private static final Path DIR = FuzzSupport.folder("config");
    private static final ConfigKeyMap GPT2 = new ConfigKeyMap("n_layer", "n_head", "", "n_embd", "vocab_size",
            "n_positions", "eos_token_id", "bos_token_id", "pad_token_id");
    private static final ConfigKeyMap LLAMA = new ConfigKeyMap("num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_size", "vocab_size", "max_position_embeddings", "eos_token_id",
            "bos_token_id", "pad_token_id");

    @FuzzTest(maxDuration = "30s")
    void configJson(byte[] input) {
        Path file = FuzzSupport.write(DIR, "config.json", input);
        FuzzSupport.refusedCleanly(() -> {
            JsonObject json = ModelConfig.readJson(file);
            ModelFolder.modelType(json, file);
        });
        FuzzSupport.refusedCleanly(() -> ModelFolder.read(DIR));
        for (ConfigKeyMap keys : new ConfigKeyMap[] {GPT2, LLAMA}) {
            FuzzSupport.refusedCleanly(() -> {
                ModelConfig c = ModelConfig.read(file, keys);
                c.modelType();
                c.numKeyValueHeads();
                c.headDim();
                c.maxPositions();
                c.eosTokenIds();
                c.bosTokenIds();
                c.padTokenId();
                c.getDouble("layer_norm_epsilon", 1e-5);
                c.getBoolean("tie_word_embeddings", true);
                c.getString("activation_function", "gelu_new");
            });
        }
    }
}
