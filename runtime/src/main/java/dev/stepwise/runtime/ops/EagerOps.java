package dev.stepwise.runtime.ops;

import dev.stepwise.runtime.tensor.HostTensor;

/**
 * A backend that computes the forward on real weights as it goes (the reference an export is validated against),
 * rather than recording it. Holds native memory: close it.
 */
public interface EagerOps extends Ops, AutoCloseable {
    /** Copies a host tensor into this backend. */
    Tensor input(HostTensor value);

    /** Copies a tensor of this backend back to the host. */
    HostTensor toHost(Tensor tensor);

    /** Frees the weights and every tensor still held. */
    @Override
    void close();
}
