package dev.stepwise.reference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import dev.stepwise.annotations.DType;
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

    @Override
    public DType type() {
        DataType t = array.getDataType();
        return switch (t) {
            case FLOAT32 -> DType.FLOAT;
            case FLOAT16 -> DType.FLOAT16;
            case INT64 -> DType.INT64;
            case INT32 -> DType.INT32;
            case BOOLEAN -> DType.BOOL;
            default -> throw new IllegalStateException("no Stepwise element type for libtorch's " + t);
        };
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
