package dev.stepwise.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.PlannedTensor;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.RandomTensor;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.SafetensorsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A GPT-2-shaped random checkpoint of any size, for the loop benchmark: transformers' GPT-2 layout and init scales
 * (the {@code gpt2} preset of {@link RandomCheckpoint}) with the dimensions given, and no eos id, so every engine runs
 * every step.
 */
final class BenchCheckpoint {
    private BenchCheckpoint() {
    }

    /** Writes {@code config.json} and {@code model.safetensors} into {@code dir}; returns the parameter count. */
    static long write(Path dir, int vocab, int embd, int layers, int heads, int positions, long seed) {
        JsonObject config = RandomCheckpoint.config("gpt2", "gpt2");
        config.addProperty("vocab_size", vocab);
        config.addProperty("n_embd", embd);
        config.addProperty("n_layer", layers);
        config.addProperty("n_head", heads);
        config.addProperty("n_positions", positions);
        config.addProperty("n_ctx", positions);
        config.add("bos_token_id", JsonNull.INSTANCE);
        config.add("eos_token_id", JsonNull.INSTANCE);
        List<RandomTensor> tensors = RandomCheckpoint.tensors("gpt2", config, dir.resolve("config.json"));
        List<PlannedTensor> plan = new ArrayList<>();
        long parameters = 0;
        for (RandomTensor t : tensors) {
            plan.add(new PlannedTensor(t.name(), SafetensorsDtype.F32, t.shape()));
            parameters += plan.get(plan.size() - 1).elementCount();
        }
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"),
                    new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(config), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StepwiseException(dir + ": cannot write config.json: " + e.getMessage(), e);
        }
        SplittableRandom random = new SplittableRandom(seed);
        try (SafetensorsWriter writer = SafetensorsWriter.create(dir.resolve(Checkpoint.SINGLE_FILE), plan,
                Map.of("format", "pt"))) {
            for (RandomTensor t : tensors) {
                writer.write(t.name(), (first, chunk) -> {
                    while (chunk.hasRemaining()) {
                        chunk.put((float) (t.mean() + t.std() * random.nextGaussian()));
                    }
                });
            }
        }
        return parameters;
    }
}
