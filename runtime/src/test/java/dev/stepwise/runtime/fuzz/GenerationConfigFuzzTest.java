package dev.stepwise.runtime.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.stepwise.runtime.generate.FolderTokenIds;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code generation_config.json}: {@code GenerationConfig.Builder.fromModelDir} and the validated config it builds
 * for a few prompt lengths, and the eos/pad ids an exported folder takes from it. Corpus:
 * {@code GenerationConfigFuzzTestInputs/}.
 */
class GenerationConfigFuzzTest {
    private static final Path DIR = FuzzSupport.folder("generation");
    private static final ModelConfig CONFIG = modelConfig();

    private static ModelConfig modelConfig() {
        Path file = FuzzSupport.write(DIR, "config.json", ("{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":2,"
                + "\"n_embd\":8,\"vocab_size\":16,\"eos_token_id\":3}").getBytes(StandardCharsets.UTF_8));
        return ModelConfig.read(file, new ConfigKeyMap("n_layer", "n_head", "", "n_embd", "vocab_size", "",
                "eos_token_id", "bos_token_id", "pad_token_id"));
    }

    @FuzzTest(maxDuration = "30s")
    void generationConfigJson(byte[] input) {
        FuzzSupport.write(DIR, "generation_config.json", input);
        for (int promptLength : new int[] {1, 7, Integer.MAX_VALUE}) {
            FuzzSupport.refusedCleanly(() -> {
                GenerationConfig.Builder b = GenerationConfig.Builder.fromModelDir(DIR);
                b.beamOptions();
                b.build(promptLength).toBuilder().build(promptLength);
            });
        }
        FuzzSupport.refusedCleanly(() -> FolderTokenIds.read(DIR, CONFIG));
    }
}
