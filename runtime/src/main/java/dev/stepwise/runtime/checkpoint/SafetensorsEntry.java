package dev.stepwise.runtime.checkpoint;

import java.util.Arrays;

/**
 * One tensor as a safetensors header describes it. {@code begin}/{@code end} are byte offsets into the data section
 * (which starts right after the header), already checked against the file.
 */
public record SafetensorsEntry(String name, SafetensorsDtype dtype, long[] shape, long begin, long end) {

    public SafetensorsEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return elementCount(shape);
    }

    public long byteLength() {
        return end - begin;
    }

    static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @" + begin + ".." + end;
    }
}
