package dev.stepwise.runtime.generate;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An exported folder's eos and pad ids: {@code generation_config.json}'s where it names them, else
 * {@code config.json}'s ({@link ModelConfig#eosTokenIds()}, {@link ModelConfig#padTokenId()}).
 */
public record FolderTokenIds(List<Long> eos, long pad) {
    /** The ids of {@code dir}, whose {@code config.json} is {@code config}. */
    public static FolderTokenIds read(Path dir, ModelConfig config) {
        List<Long> eos = config.eosTokenIds();
        long pad = config.padTokenId();
        Path generationConfig = dir.resolve("generation_config.json");
        if (Files.isRegularFile(generationConfig)) {
            JsonObject g = ModelConfig.readJson(generationConfig);
            List<Long> genEos = ids(g.get("eos_token_id"), generationConfig);
            if (!genEos.isEmpty()) {
                eos = genEos;
            }
            List<Long> genPad = ids(g.get("pad_token_id"), generationConfig);
            if (!genPad.isEmpty()) {
                pad = genPad.get(0);
            }
        }
        return new FolderTokenIds(eos, pad);
    }

    private static List<Long> ids(JsonElement e, Path where) {
        List<Long> out = new ArrayList<>();
        if (e == null || e.isJsonNull()) {
            return out;
        }
        try {
            if (e.isJsonArray()) {
                e.getAsJsonArray().forEach(x -> out.add(x.getAsLong()));
            } else {
                out.add(e.getAsLong());
            }
        } catch (RuntimeException ex) {
            throw new StepwiseException(where + ": token ids must be integers, found " + e);
        }
        return out;
    }
}
