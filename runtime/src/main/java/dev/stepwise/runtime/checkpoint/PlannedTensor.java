package dev.stepwise.runtime.checkpoint;

import java.util.Arrays;

/** A tensor a {@link SafetensorsWriter} will write: known up front so the header can go first. */
public record PlannedTensor(String name, SafetensorsDtype dtype, long... shape) {

    public PlannedTensor {
        if (name == null || name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("invalid tensor name '" + name + "'");
        }
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in shape " + Arrays.toString(shape));
            }
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return SafetensorsEntry.elementCount(shape);
    }

    public long byteLength() {
        return Math.multiplyExact(elementCount(), dtype.byteSize());
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
