package dev.stepwise.runtime.ops;

/**
 * The size of one axis. Known (a number) when running eagerly or tracing a fixed-shape graph; symbolic when tracing
 * the dynamic decoder, where the backend computes it in the graph. Arithmetic on dims goes through {@link Ops} so a
 * symbolic dim can emit graph nodes, while known dims fold to numbers and emit nothing.
 */
public interface Dim {
    /** True when the size is a number at trace time. */
    boolean isKnown();

    /** The size; only for known dims. */
    long value();

    /** A known dim. */
    static Dim of(long value) {
        return new KnownDim(value);
    }

    /** The known dim implementation shared by all backends. */
    record KnownDim(long size) implements Dim {
        @Override
        public boolean isKnown() {
            return true;
        }

        @Override
        public long value() {
            return size;
        }

        @Override
        public String toString() {
            return Long.toString(size);
        }
    }
}
