package dev.stepwise.runtime.model;

import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.ShapeOps;
import dev.stepwise.runtime.ops.Tensor;
import java.util.List;

/**
 * An encoder-only model's forward, written once against {@link Ops}. The class implementing it carries an
 * {@code @EncoderConfig} annotation; the processor generates its exporter.
 */
public interface EncoderModel {

    /**
     * Runs the model for {@code task} and returns that task's output: {@code last_hidden_state [B, S, hidden]}
     * (feature-extraction), {@code logits [B, num_labels]} (text-classification) or {@code logits [B, S, vocab]}
     * (fill-mask).
     */
    Tensor forward(Ops ops, ModelConfig config, EncoderInputs inputs, Task task);

    /**
     * Every checkpoint tensor the forward reads for {@code task}, with its shape, checked before anything is written:
     * what the forward declares when it runs on the shape-only backend ({@link ShapeOps}).
     */
    default List<WeightSpec> expectedWeights(ModelConfig config, Task task) {
        return ShapeOps.expectedWeights(this, config, task);
    }
}
