package dev.stepwise.reference;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import dev.stepwise.runtime.ops.Tensor;

/**
 * A region of a computation whose intermediate tensors are freed together: every tensor a {@link TorchOps} makes
 * while the scope is its innermost open one is freed when the scope closes, except those passed to {@link #keep}.
 * A decode loop opens one per step so native memory stays flat; without scopes, intermediates live until the
 * TorchOps closes. Weights are never owned by a scope.
 *
 * <pre>{@code
 * try (TorchScope step = ops.openScope()) {
 *     Tensor logits = step.keep(model.forward(ops, ...));
 * }
 * }</pre>
 */
public final class TorchScope implements AutoCloseable {
    private final TorchOps ops;
    private final NDManager parent;
    private final NDManager manager;
    private boolean closed;

    TorchScope(TorchOps ops, NDManager parent) {
        this.ops = ops;
        this.parent = parent;
        this.manager = parent.newSubManager();
    }

    NDManager manager() {
        return manager;
    }

    /**
     * Moves a tensor made in this scope to the enclosing scope (or to the TorchOps itself), so it outlives this
     * scope. Tensors this scope does not own (weights, tensors of enclosing scopes) are left where they are.
     */
    public <T extends Tensor> T keep(T tensor) {
        if (closed) {
            throw new IllegalStateException("scope already closed");
        }
        PtNDArray array = TorchOps.unwrap(tensor);
        if (array.getManager() == manager) {
            array.attach(parent);
        }
        return tensor;
    }

    /** {@link #keep} for several tensors. */
    public void keep(Tensor... tensors) {
        for (Tensor t : tensors) {
            keep(t);
        }
    }

    /** Frees every tensor made in this scope and not kept. Scopes close innermost first. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        ops.endScope(this);
        closed = true;
        manager.close();
    }
}
