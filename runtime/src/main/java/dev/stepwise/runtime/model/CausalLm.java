package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.List;

/**
 * A decoder-only language model's forward, written once against {@link Ops}. The class implementing it carries an
 * {@code @OnnxConfig} annotation; the processor generates its exporter.
 */
public interface CausalLm {

    /**
     * Runs the model. Past key/values come from {@code cache} (absent for the plain text-generation task); the
     * forward records each layer's present key/value in it. Returns logits {@code [batch, sequence, vocab]}.
     */
    Tensor forward(Ops ops, ModelConfig config, DecoderInputs inputs, KvCache cache);

    /** Every checkpoint tensor the forward reads, with its shape, so a bad checkpoint fails before anything is written. */
    List<WeightSpec> expectedWeights(ModelConfig config);
}
