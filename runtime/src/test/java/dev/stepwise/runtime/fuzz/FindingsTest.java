package dev.stepwise.runtime.fuzz;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bugs found while writing and running the fuzz targets, each as the message the input now gets. (The crashing inputs
 * themselves also sit in the targets' corpora, so the fuzz tests' regression runs replay them.)
 */
class FindingsTest {
    @TempDir
    Path dir;

    private static final ConfigKeyMap LLAMA = new ConfigKeyMap("num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_size", "vocab_size", "max_position_embeddings", "eos_token_id",
            "bos_token_id", "pad_token_id");

    private String configError(String json) throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), json);
        return assertThrows(StepwiseException.class, () -> ModelConfig.read(file, LLAMA)).getMessage();
    }

    @Test
    void zeroKeyValueHeadsIsAnErrorNotADivisionByZero() throws IOException {
        String m = configError("{\"num_hidden_layers\":1,\"num_attention_heads\":4,\"num_key_value_heads\":0,"
                + "\"hidden_size\":8,\"vocab_size\":10}");
        assertTrue(m.endsWith("config.json: key 'num_key_value_heads' = 0 must be positive"), m);
    }

    @Test
    void aNegativeHeadDimIsRefused() throws IOException {
        String m = configError("{\"num_hidden_layers\":1,\"num_attention_heads\":4,\"head_dim\":-8,"
                + "\"hidden_size\":8,\"vocab_size\":10}");
        assertTrue(m.endsWith("config.json: key 'head_dim' = -8 must be positive"), m);
    }

    @Test
    void aHugelyNegativeMaxLengthDoesNotWrapAround() {
        // generation_config.json refuses it as out of int range; the builder API took it and wrapped to 2^31 - 5 tokens
        String m = assertThrows(StepwiseException.class,
                () -> new GenerationConfig.Builder().maxLength(Integer.MIN_VALUE).build(5)).getMessage();
        assertTrue(m.startsWith("max_length -2147483648 leaves no room"), m);
    }
}
