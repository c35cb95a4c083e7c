package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Streams weights into one ONNX external data file ({@code model.onnx_data}) as they are traced. Every tensor starts at
 * a 64-byte aligned offset (so runtimes can use the bytes in place with vector loads) and is described by a
 * TensorProto with {@code data_location = EXTERNAL} and {@code location}/{@code offset}/{@code length} entries.
 * Nothing but one scratch buffer (for transposing) is held in memory.
 */
public final class ExternalDataWriter implements WeightSink, Closeable {
    /** Alignment of every tensor's first byte in the file. */
    public static final int ALIGNMENT = 64;
    static final int DEFAULT_SCRATCH_BYTES = 4 << 20;
    /** Side of the square tiles a transpose walks, so reads and writes both stay within cache. */
    private static final int TILE = 64;

    private final Path file;
    private final String location;
    private final FileChannel channel;
    private final int scratchBytes;
    private ByteBuffer scratch;
    private long position;
    private int tensorCount;
    private boolean closed;

    /** Creates (or truncates) {@code file}; initializers will name it by its file name, relative to the model. */
    public ExternalDataWriter(Path file) {
        this(file, DEFAULT_SCRATCH_BYTES);
    }

    ExternalDataWriter(Path file, int scratchBytes) {
        this.file = file;
        this.location = file.getFileName().toString();
        this.scratchBytes = scratchBytes;
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new StepwiseException("cannot create external data file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The {@code location} written into initializers: the file name. */
    public String location() {
        return location;
    }

    public Path file() {
        return file;
    }

    /** Size of the file so far. */
    public long bytesWritten() {
        return position;
    }

    public int tensorCount() {
        return tensorCount;
    }

    @Override
    public TensorProto write(String name, DType type, long[] dims, ByteBuffer data) {
        int elemType = OnnxTypes.elemType(type);
        long expected = OnnxTypes.elementCount(dims) * OnnxTypes.byteSize(elemType);
        if (data.remaining() != expected) {
            throw new StepwiseException("weight '" + name + "': " + data.remaining() + " bytes, expected " + expected
                    + " for " + type + Arrays.toString(dims));
        }
        long offset = alignedStart();
        writeAt(data.duplicate(), offset, name);
        return finish(name, elemType, dims, offset, expected);
    }

    @Override
    public TensorProto writeTransposed(String name, long rows, long cols, ByteBuffer data) {
        return writeTransposed(name, DType.FLOAT, rows, cols, data);
    }

    /** Transposes a float32 or float16 matrix while streaming it out, one chunk of output rows at a time. */
    @Override
    public TensorProto writeTransposed(String name, DType type, long rows, long cols, ByteBuffer data) {
        if (type != DType.FLOAT && type != DType.FLOAT16) {
            throw new StepwiseException("weight '" + name + "': cannot transpose a " + type + " matrix");
        }
        int elemType = OnnxTypes.elemType(type);
        int size = OnnxTypes.byteSize(elemType);
        long count = rows * cols;
        if (data.remaining() != count * size) {
            throw new StepwiseException("weight '" + name + "': " + data.remaining() + " bytes, expected " + count * size
                    + " for a " + (type == DType.FLOAT ? "float32" : "float16") + " [" + rows + ", " + cols + "] matrix");
        }
        // ByteBuffer.duplicate() forgets the byte order, so set it again on the copy
        ByteBuffer in = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long offset = alignedStart();
        long outRowBytes = rows * size;
        int rowsPerChunk = (int) Math.max(1, Math.min(cols, scratchBytes / Math.max(1, outRowBytes)));
        ByteBuffer buf = scratch(rowsPerChunk * outRowBytes);
        long at = offset;
        for (long j0 = 0; j0 < cols; j0 += rowsPerChunk) {
            long j1 = Math.min(cols, j0 + rowsPerChunk);
            buf.clear();
            if (size == 4) {
                transposeChunk(in.asFloatBuffer(), buf.asFloatBuffer(), rows, cols, j0, j1);
            } else {
                transposeChunk(in.asShortBuffer(), buf.asShortBuffer(), rows, cols, j0, j1);
            }
            buf.limit((int) ((j1 - j0) * outRowBytes));
            writeAt(buf, at, name);
            at += (j1 - j0) * outRowBytes;
        }
        return finish(name, elemType, new long[] {cols, rows}, offset, count * size);
    }

    /** Output rows {@code j0..j1-1} (columns of the source), each landing at {@code (j - j0) * rows} in {@code dst}. */
    private static void transposeChunk(FloatBuffer src, FloatBuffer dst, long rows, long cols, long j0, long j1) {
        for (long i0 = 0; i0 < rows; i0 += TILE) {
            long i1 = Math.min(rows, i0 + TILE);
            for (long t0 = j0; t0 < j1; t0 += TILE) {
                long t1 = Math.min(j1, t0 + TILE);
                for (long i = i0; i < i1; i++) {
                    int srcRow = (int) (i * cols);
                    for (long j = t0; j < t1; j++) {
                        dst.put((int) ((j - j0) * rows + i), src.get(srcRow + (int) j));
                    }
                }
            }
        }
    }

    /** The same walk for 16-bit elements. */
    private static void transposeChunk(ShortBuffer src, ShortBuffer dst, long rows, long cols, long j0, long j1) {
        for (long i0 = 0; i0 < rows; i0 += TILE) {
            long i1 = Math.min(rows, i0 + TILE);
            for (long t0 = j0; t0 < j1; t0 += TILE) {
                long t1 = Math.min(j1, t0 + TILE);
                for (long i = i0; i < i1; i++) {
                    int srcRow = (int) (i * cols);
                    for (long j = t0; j < t1; j++) {
                        dst.put((int) ((j - j0) * rows + i), src.get(srcRow + (int) j));
                    }
                }
            }
        }
    }

    private ByteBuffer scratch(long bytes) {
        if (scratch == null || scratch.capacity() < bytes) {
            // one reusable direct buffer, at most one chunk large (one output row when rows are huge)
            scratch = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
        return scratch;
    }

    /** Pads the file to the next aligned offset and returns it. */
    private long alignedStart() {
        if (closed) {
            throw new IllegalStateException("external data file " + file + " is closed");
        }
        long aligned = (position + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        if (aligned > position) {
            writeAt(ByteBuffer.allocate((int) (aligned - position)), position, "padding");
        }
        return aligned;
    }

    private void writeAt(ByteBuffer buf, long at, String what) {
        try {
            long p = at;
            while (buf.hasRemaining()) {
                p += channel.write(buf, p);
            }
            position = Math.max(position, p);
        } catch (IOException e) {
            throw new StepwiseException("writing '" + what + "' to " + file + " failed: " + e.getMessage(), e);
        }
    }

    private TensorProto finish(String name, int elemType, long[] dims, long offset, long length) {
        tensorCount++;
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(elemType)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("offset", Long.toString(offset)))
                .addExternalData(entry("length", Long.toString(length)));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw new StepwiseException("closing " + file + " failed: " + e.getMessage(), e);
        }
    }
}
