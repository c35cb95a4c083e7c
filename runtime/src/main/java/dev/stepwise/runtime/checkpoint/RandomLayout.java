package dev.stepwise.runtime.checkpoint;

import com.google.gson.JsonObject;
import java.util.List;

/**
 * What a random checkpoint of one architecture looks like: its named size presets, the {@code config.json}
 * transformers would save for a preset, and the tensors (in transformers' names) such a config implies.
 * Add an architecture by writing one implementation and listing it in {@link RandomCheckpoint}.
 */
public interface RandomLayout {
    /** The {@code model_type} the layout writes ("gpt2"). */
    String arch();

    /** Preset names, smallest first. */
    List<String> presets();

    /** The {@code config.json} for a preset (a fresh object the caller may modify). */
    JsonObject config(String preset);

    /** The checkpoint's tensors for a config, in the order they are written. */
    List<RandomTensor> tensors(JsonObject config);
}
