package dev.stepwise.runtime.checkpoint;

import dev.stepwise.runtime.StepwiseException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Weights held in memory, for tests and tiny hand-built models. */
public final class MapWeightSource implements WeightSource {
    private record Entry(long[] shape, float[] data) {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public MapWeightSource put(String name, float[] data, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values do not fill the shape");
        }
        entries.put(name, new Entry(shape.clone(), data.clone()));
        return this;
    }

    @Override
    public boolean has(String name) {
        return entries.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return entry(name).shape().clone();
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    @Override
    public ByteBuffer float32(String name) {
        float[] d = entry(name).data();
        ByteBuffer b = ByteBuffer.allocateDirect(d.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(d);
        return b;
    }

    @Override
    public String describe() {
        return "in-memory weights";
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new StepwiseException(describe() + ": no tensor '" + name + "'");
        }
        return e;
    }
}
