package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.ops.Dim;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A dim known only at run time. In the graph it is an int64 {@code [1]} tensor, emitted lazily the first time some
 * op needs it (read off a value with Shape, or computed from other dims), and then reused: asking for the same dim
 * twice never emits a second Shape node.
 *
 * <p>Two symbolic dims are equal when their expressions are equal, ignoring spaces: the same {@code dim_param}
 * ({@code batch_size}), or the same arithmetic on equal dims. So {@code past_sequence_length + sequence_length}
 * computed by the forward equals the {@code attention_mask} axis declared with that name, which lets reshapes copy
 * an axis ({@code 0}) instead of computing it.
 */
public final class SymbolicDim implements Dim {
    private final String expression;
    private final String key;
    private final String dimParam;
    private Supplier<TracedTensor> materializer;
    private TracedTensor tensor;

    SymbolicDim(String expression, String dimParam, Supplier<TracedTensor> materializer) {
        this.expression = expression;
        this.key = expression.replace(" ", "");
        this.dimParam = dimParam;
        this.materializer = materializer;
    }

    @Override
    public boolean isKnown() {
        return false;
    }

    @Override
    public long value() {
        throw new IllegalStateException("the dim '" + expression + "' is only known at run time");
    }

    /** Readable definition: a dim_param name, {@code a + b}, or {@code shape(value)[axis]}. */
    public String expression() {
        return expression;
    }

    /** The dim_param when this dim was declared on a graph input axis. */
    public Optional<String> dimParam() {
        return Optional.ofNullable(dimParam);
    }

    /** True once its int64 [1] tensor exists in the graph. */
    public boolean isMaterialized() {
        return tensor != null;
    }

    /** The int64 [1] tensor holding this dim, emitting the nodes that compute it on first use. */
    public TracedTensor tensor() {
        if (tensor == null) {
            tensor = materializer.get();
            materializer = null;
        }
        return tensor;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SymbolicDim s && s.key.equals(key);
    }

    @Override
    public int hashCode() {
        return key.hashCode();
    }

    @Override
    public String toString() {
        return expression;
    }
}
