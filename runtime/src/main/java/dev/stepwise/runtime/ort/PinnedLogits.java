package dev.stepwise.runtime.ort;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * A logits output {@code [batch, sequence, vocab]} that ONNX Runtime writes straight into a direct buffer owned here
 * (a pinned output: pass {@link #tensor()} to {@code OrtSession.run(inputs, outputNames, pinnedOutputs)}). Readers
 * take only the last position of a row, {@code vocab} values, so the full logits never reach the Java heap. Reuse
 * one instance for every run of the same shape (each decode step).
 */
public final class PinnedLogits implements AutoCloseable {
    private final OnnxTensor tensor;
    private final ByteBuffer bytes;
    private final OnnxJavaType type;
    private final int batch;
    private final int sequence;
    private final int vocab;

    private PinnedLogits(OnnxTensor tensor, ByteBuffer bytes, OnnxJavaType type, int batch, int sequence, int vocab) {
        this.tensor = tensor;
        this.bytes = bytes;
        this.type = type;
        this.batch = batch;
        this.sequence = sequence;
        this.vocab = vocab;
    }

    /**
     * A zeroed pinned output of {@code type} ({@code FLOAT} or {@code FLOAT16}). The buffer is off-heap; a Java
     * direct buffer holds at most 2 GiB, so larger logits fail here with a message suggesting a last-logits export.
     */
    public static PinnedLogits allocate(OnnxJavaType type, int batch, int sequence, int vocab) {
        if (type != OnnxJavaType.FLOAT && type != OnnxJavaType.FLOAT16) {
            throw new StepwiseException("logits of type " + type + " are not supported (float or float16)");
        }
        int width = type == OnnxJavaType.FLOAT ? Float.BYTES : Short.BYTES;
        long size = (long) batch * sequence * vocab * width;
        if (size > Integer.MAX_VALUE) {
            throw new StepwiseException(String.format("logits [%d, %d, %d] need %.1f GB, more than one direct buffer holds;"
                    + " export with --last-logits-only (logits [batch, 1, vocab])", batch, sequence, vocab, size / 1e9));
        }
        ByteBuffer bytes = ByteBuffer.allocateDirect((int) size).order(ByteOrder.nativeOrder());
        long[] shape = {batch, sequence, vocab};
        try {
            OnnxTensor t = type == OnnxJavaType.FLOAT
                    ? OnnxTensor.createTensor(OrtSessions.environment(), bytes.asFloatBuffer(), shape)
                    : OnnxTensor.createTensor(OrtSessions.environment(), bytes, shape, OnnxJavaType.FLOAT16);
            return new PinnedLogits(t, bytes, type, batch, sequence, vocab);
        } catch (OrtException e) {
            throw new StepwiseException("cannot create a pinned logits tensor " + java.util.Arrays.toString(shape) + ": "
                    + e.getMessage(), e);
        }
    }

    /** The ONNX Runtime value over the buffer, to pass as the pinned output (still owned here). */
    public OnnxTensor tensor() {
        return tensor;
    }

    /** True when this buffer has the shape a run of {@code batch × sequence} positions writes. */
    public boolean fits(int batch, int sequence) {
        return this.batch == batch && this.sequence == sequence;
    }

    public int vocab() {
        return vocab;
    }

    /** Bytes of the off-heap buffer ({@code batch × sequence × vocab × element size}). */
    public long bufferBytes() {
        return bytes.capacity();
    }

    /** Element offset of row {@code b}'s last position, for readers of {@link #floats()}. */
    public int lastPositionOffset(int b) {
        return (b * sequence + sequence - 1) * vocab;
    }

    /** A float32 view of the whole buffer (no copy); float16 logits have none, read {@link #lastPosition} instead. */
    public FloatBuffer floats() {
        if (type != OnnxJavaType.FLOAT) {
            throw new IllegalStateException("float16 logits have no float view");
        }
        return bytes.asFloatBuffer();
    }

    /** Row {@code b}'s logits at the last position: {@code vocab} floats copied to the heap (float16 widened). */
    public float[] lastPosition(int b) {
        if (b < 0 || b >= batch) {
            throw new IndexOutOfBoundsException("row " + b + " of a batch of " + batch);
        }
        float[] out = new float[vocab];
        int offset = lastPositionOffset(b);
        if (type == OnnxJavaType.FLOAT) {
            bytes.asFloatBuffer().get(offset, out);
        } else {
            ShortBuffer halves = bytes.asShortBuffer();
            for (int v = 0; v < vocab; v++) {
                out[v] = HalfFloats.f16ToFloat(halves.get(offset + v));
            }
        }
        return out;
    }

    /** Every row's {@link #lastPosition}, row by row. */
    public float[][] lastPositions() {
        float[][] last = new float[batch][];
        for (int b = 0; b < batch; b++) {
            last[b] = lastPosition(b);
        }
        return last;
    }

    @Override
    public void close() {
        tensor.close();
    }
}
