package dev.stepwise.runtime.model;

/**
 * The service through which the runtime finds an architecture by {@code model_type}. The processor generates an
 * implementation ({@code <Arch>Exporter}) for every {@code @OnnxConfig} class and registers it in
 * {@code META-INF/services}, so a user's own jar on the class path is found like the built-in models.
 */
public interface Architecture {
    ArchitectureSpec spec();

    /** A new instance of the annotated model class. */
    CausalLm newModel();

    /**
     * Dummy inputs for validation: {@code batch} rows of {@code sequence} new tokens after a past of {@code past}
     * tokens (0 = prefill), ids in range of the vocabulary, a left-padded mask, past tensors of the KV-head count.
     */
    dev.stepwise.runtime.export.DummyInputs dummyInputs(ModelConfig config, int batch, int sequence, int past, long seed);
}
