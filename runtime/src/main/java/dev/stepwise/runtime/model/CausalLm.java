package dev.stepwise.runtime.model;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ShapeOps;
import dev.stepwise.runtime.ops.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A decoder-only language model's forward, written once against {@link Ops}. The class implementing it carries an
 * {@code @OnnxConfig} annotation; the processor generates its exporter.
 *
 * <p>The forward declares each weight where it uses it, with its shape ({@link Ops#weight(String, long...)}); that is
 * the only place a weight is named. The checkpoint check ({@link #expectedWeights}) and random checkpoints
 * ({@link #randomPresets}) are derived from it by running the forward on {@link ShapeOps}.
 */
public interface CausalLm {

    /**
     * Runs the model. Past key/values come from {@code cache} (absent for the plain text-generation task); the
     * forward records each layer's present key/value in it. Returns logits {@code [batch, sequence, vocab]}.
     */
    Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache);

    /**
     * Every checkpoint tensor the forward reads, with its shape, so a bad checkpoint fails before anything is written:
     * what the forward declares when it runs on the shape-only backend. Config problems the forward reports surface
     * here too.
     */
    default List<WeightSpec> expectedWeights(ModelConfig config) {
        return ShapeOps.expectedWeights(this, config);
    }

    /**
     * Named sizes {@code stepwise random-checkpoint} can write this architecture in, smallest first: for each, the
     * {@code config.json} transformers would save (a fresh object the caller may change). The tensors follow from the
     * forward's declarations. None by default.
     */
    default Map<String, JsonObject> randomPresets() {
        return Map.of();
    }
}
