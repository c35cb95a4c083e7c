package dev.stepwise.reference;

import static dev.stepwise.reference.TorchAsserts.assertFloats;
import static dev.stepwise.reference.TorchAsserts.assertLongs;
import static dev.stepwise.reference.TorchAsserts.dims;
import static dev.stepwise.reference.TorchAsserts.floats;
import static dev.stepwise.reference.TorchAsserts.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Weights (loading, caching, transposing, errors), the host boundary, and when native memory is freed. */
class TorchWeightsAndMemoryTest {

    /** Counts reads and lets a test hand out the buffers a real checkpoint would (read-only, heap, offset). */
    private static final class RecordingSource implements WeightSource {
        final MapWeightSource inner = new MapWeightSource();
        final Map<String, Integer> reads = new HashMap<>();
        UnaryOperator<ByteBuffer> shape = b -> b;

        @Override
        public boolean has(String name) {
            return inner.has(name);
        }

        @Override
        public long[] shape(String name) {
            return inner.shape(name);
        }

        @Override
        public Set<String> names() {
            return inner.names();
        }

        @Override
        public ByteBuffer float32(String name) {
            reads.merge(name, 1, Integer::sum);
            return shape.apply(inner.float32(name));
        }

        @Override
        public String describe() {
            return "test weights";
        }
    }

    private static RecordingSource source() {
        RecordingSource s = new RecordingSource();
        s.inner.put("fc.weight", new float[] {1, 2, 3, 4, 5, 6}, 2, 3) // [out=2, in=3]
                .put("fc.bias", new float[] {0.5f, -0.5f}, 2)
                .put("wte.weight", new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        return s;
    }

    @Test
    void weightHasTheCheckpointShapeAndValues() {
        try (TorchOps ops = new TorchOps(source())) {
            assertFloats(ops, shape(2, 3), new float[] {1, 2, 3, 4, 5, 6}, ops.weight("fc.weight"));
            assertFloats(ops, shape(2), new float[] {0.5f, -0.5f}, ops.weight("fc.bias"));
            assertTrue(ops.hasWeight("fc.bias"));
            assertFalse(ops.hasWeight("lm_head.weight"));
        }
    }

    @Test
    void weightsAreLoadedOnceAndSharedWithTheirTranspose() {
        RecordingSource src = source();
        try (TorchOps ops = new TorchOps(src)) {
            Tensor w = ops.weight("fc.weight");
            assertSame(w, ops.weight("fc.weight"));
            Tensor wt = ops.weightTransposed("fc.weight");
            assertSame(wt, ops.weightTransposed("fc.weight"));
            assertEquals(1, src.reads.get("fc.weight"));
            assertFloats(ops, shape(3, 2), new float[] {1, 4, 2, 5, 3, 6}, wt);
        }
        RecordingSource other = source();
        try (TorchOps ops = new TorchOps(other)) {
            ops.weightTransposed("fc.weight");
            ops.weight("fc.weight");
            assertEquals(1, other.reads.get("fc.weight"));
        }
    }

    @Test
    void linearLayerThroughTheTransposedWeight() {
        try (TorchOps ops = new TorchOps(source())) {
            // x @ W^T + b with W = [[1,2,3],[4,5,6]]
            Tensor x = floats(ops, new float[] {1, 0, 1, 0, 1, 0}, 1, 2, 3);
            Tensor y = ops.add(ops.matmul(x, ops.weightTransposed("fc.weight")), ops.weight("fc.bias"));
            assertFloats(ops, shape(1, 2, 2), new float[] {4.5f, 9.5f, 2.5f, 4.5f}, y);
            // and a tied head: logits = h @ wte^T
            Tensor h = floats(ops, new float[] {1, 1}, 1, 1, 2);
            assertFloats(ops, shape(1, 1, 3), new float[] {1, 21, 41}, ops.matmulTransposedB(h, ops.weight("wte.weight")));
        }
    }

    @Test
    void checkpointBuffersOfEveryKindAreRead() {
        RecordingSource readOnly = source();
        readOnly.shape = ByteBuffer::asReadOnlyBuffer; // a memory-mapped F32 checkpoint hands these out
        RecordingSource heap = source();
        heap.shape = b -> {
            ByteBuffer h = ByteBuffer.allocate(b.remaining()).order(ByteOrder.LITTLE_ENDIAN);
            h.put(b.duplicate()).flip();
            return h;
        };
        RecordingSource offset = source();
        offset.shape = b -> {
            ByteBuffer padded = ByteBuffer.allocateDirect(b.remaining() + 8).order(ByteOrder.LITTLE_ENDIAN);
            padded.position(8);
            padded.put(b.duplicate());
            return padded.position(8);
        };
        for (RecordingSource src : new RecordingSource[] {readOnly, heap, offset}) {
            try (TorchOps ops = new TorchOps(src)) {
                assertFloats(ops, shape(3, 2), new float[] {1, 4, 2, 5, 3, 6}, ops.weightTransposed("fc.weight"));
            }
        }
    }

    @Test
    void badWeightsGiveErrorsNamingTheTensor() {
        RecordingSource src = source();
        try (TorchOps ops = new TorchOps(src)) {
            StepwiseException missing = assertThrows(StepwiseException.class, () -> ops.weight("h.0.attn.weight"));
            assertTrue(missing.getMessage().contains("h.0.attn.weight"), missing.getMessage());
            StepwiseException notMatrix = assertThrows(StepwiseException.class, () -> ops.weightTransposed("fc.bias"));
            assertTrue(notMatrix.getMessage().contains("fc.bias"), notMatrix.getMessage());
        }
        RecordingSource truncated = source();
        truncated.shape = b -> b.limit(b.limit() - 4);
        try (TorchOps ops = new TorchOps(truncated)) {
            StepwiseException e = assertThrows(StepwiseException.class, () -> ops.weight("fc.weight"));
            assertTrue(e.getMessage().contains("fc.weight") && e.getMessage().contains("test weights"), e.getMessage());
        }
    }

    @Test
    void hostTensorsRoundTrip() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            HostTensor ids = HostTensor.ofLongs(new long[] {50256, 0, -3, Long.MIN_VALUE}, 2, 2);
            HostTensor back = ops.toHost(ops.input(ids));
            assertEquals(DType.INT64, back.type());
            assertArrayEquals(ids.shape(), back.shape());
            assertArrayEquals(ids.longs(), back.longs());
            HostTensor f = HostTensor.ofFloats(new float[] {1.5f, Float.NaN, -0f, 3e38f}, 4);
            assertArrayEquals(f.floats(), ops.toHost(ops.input(f)).floats());
            HostTensor empty = HostTensor.ofFloats(new float[0], 2, 4, 0, 8);
            HostTensor emptyBack = ops.toHost(ops.input(empty));
            assertArrayEquals(empty.shape(), emptyBack.shape());
            assertEquals(0, emptyBack.floats().length);
            // a transposed view comes out in its logical order
            Tensor m = floats(ops, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, ops.toHost(ops.transpose(m, 1, 0)).floats());
            // other element types widen to the two host types
            assertArrayEquals(new long[] {1, 0}, ops.toHost(ops.greater(ops.longs(3, 1), ops.longs(2))).longs());
            assertArrayEquals(new float[] {0.5f}, ops.toHost(ops.cast(ops.scalar(0.5f), DType.FLOAT16)).floats());
        }
    }

    @Test
    void closingFreesEverythingIncludingWeights() {
        TorchOps ops = new TorchOps(source());
        TorchTensor w = (TorchTensor) ops.weight("fc.weight");
        TorchTensor wt = (TorchTensor) ops.weightTransposed("fc.weight");
        TorchTensor x = (TorchTensor) floats(ops, new float[] {1, 2, 3}, 1, 3);
        TorchTensor y = (TorchTensor) ops.matmul(x, wt);
        TorchTensor inScope;
        TorchScope open = ops.openScope();
        inScope = (TorchTensor) ops.add(y, ops.scalar(1f));
        assertFalse(w.isReleased() || wt.isReleased() || x.isReleased() || y.isReleased() || inScope.isReleased());
        ops.close();
        assertTrue(w.isReleased() && wt.isReleased() && x.isReleased() && y.isReleased() && inScope.isReleased());
        assertThrows(IllegalStateException.class, () -> ops.weight("fc.weight"));
        assertThrows(IllegalStateException.class, () -> ops.scalar(1f));
        assertThrows(IllegalStateException.class, () -> ops.toHost(y));
        open.close(); // already closed with its TorchOps: harmless
        ops.close(); // idempotent
    }

    @Test
    void scopesFreeIntermediatesButKeepWhatIsKeptAndAllWeights() {
        try (TorchOps ops = new TorchOps(source())) {
            Tensor outside = floats(ops, new float[] {1, 2, 3}, 1, 3);
            TorchTensor temp;
            TorchTensor kept;
            TorchTensor weightInScope;
            try (TorchScope step = ops.openScope()) {
                weightInScope = (TorchTensor) ops.weightTransposed("fc.weight");
                temp = (TorchTensor) ops.matmul(outside, weightInScope);
                kept = step.keep((TorchTensor) ops.add(temp, ops.weight("fc.bias")));
                step.keep(outside); // not the scope's: left where it is
                step.keep(weightInScope); // a weight: stays with the TorchOps
            }
            assertTrue(temp.isReleased());
            assertFalse(kept.isReleased());
            assertFalse(((TorchTensor) outside).isReleased());
            assertFalse(weightInScope.isReleased());
            assertFloats(ops, shape(1, 2), new float[] {14.5f, 31.5f}, kept);
            // a weight loaded inside a scope outlives it
            assertFloats(ops, shape(3, 2), new float[] {1, 4, 2, 5, 3, 6}, ops.weightTransposed("fc.weight"));
        }
    }

    @Test
    void nestedScopesKeepIntoTheirParentAndCloseInnermostFirst() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            TorchScope outer = ops.openScope();
            TorchScope inner = ops.openScope();
            TorchTensor a = inner.keep((TorchTensor) ops.scalar(1f));
            TorchTensor b = (TorchTensor) ops.scalar(2f);
            assertThrows(IllegalStateException.class, outer::close);
            inner.close();
            assertFalse(a.isReleased());
            assertTrue(b.isReleased());
            TorchTensor c = (TorchTensor) ops.add(a, a); // made in outer now
            outer.close();
            assertTrue(a.isReleased() && c.isReleased());
            assertThrows(IllegalStateException.class, () -> outer.keep(ops.scalar(1f)));
        }
    }

    @Test
    void releaseFreesNowButNeverAWeight() {
        try (TorchOps ops = new TorchOps(source())) {
            TorchTensor x = (TorchTensor) ops.scalar(3f);
            TorchTensor w = (TorchTensor) ops.weight("fc.bias");
            ops.release(x, w, ops.weightTransposed("fc.weight"));
            assertTrue(x.isReleased());
            assertFalse(w.isReleased());
            assertFalse(((TorchTensor) ops.weightTransposed("fc.weight")).isReleased());
            assertThrows(IllegalStateException.class, () -> ops.toHost(x));
        }
    }

    @Test
    void viewsOutliveTheTensorTheyCameFrom() {
        // Host data is copied into libtorch-owned memory, so a view stays valid after its base is freed.
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor view;
            try (TorchScope scope = ops.openScope()) {
                Tensor base = TorchAsserts.longs(ops, new long[] {1, 2, 3, 4, 5, 6}, 2, 3);
                view = scope.keep(ops.transpose(ops.reshape(base, dims(3, 2)), 1, 0));
            }
            System.gc();
            assertLongs(ops, shape(2, 3), new long[] {1, 3, 5, 2, 4, 6}, view);
        }
    }

    @Test
    void tensorsFromAnotherBackendAreRejected() {
        try (TorchOps ops = new TorchOps(new MapWeightSource())) {
            Tensor foreign = new Tensor() {
                @Override
                public int rank() {
                    return 2;
                }

                @Override
                public dev.stepwise.annotations.DType type() {
                    return dev.stepwise.annotations.DType.FLOAT;
                }
            };
            assertThrows(IllegalArgumentException.class, () -> ops.relu(foreign));
        }
    }
}
