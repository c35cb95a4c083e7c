package dev.stepwise.runtime.ops.torch;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import dev.stepwise.runtime.ops.Tensor;

/**
 * A tensor of the eager backend: a libtorch tensor held through DJL. Its native memory belongs to the
 * {@link TorchOps} (or the {@link TorchScope}) that made it and is freed when that closes.
 */
public final class TorchTensor implements Tensor {
    private final PtNDArray array;

    TorchTensor(PtNDArray array) {
        this.array = array;
    }

    /** The underlying array, for code that talks to DJL directly (it stays owned by its TorchOps or scope). */
    public NDArray array() {
        return array;
    }

    PtNDArray nd() {
        return array;
    }

    @Override
    public int rank() {
        return array.getShape().dimension();
    }

    /** The shape, as a fresh array. */
    public long[] shape() {
        return array.getShape().getShape();
    }

    /** True once the owning TorchOps or scope has freed the native memory. */
    public boolean isReleased() {
        return array.isReleased();
    }

    @Override
    public String toString() {
        return isReleased() ? "TorchTensor(released)" : "TorchTensor(" + array.getDataType() + array.getShape() + ")";
    }
}
