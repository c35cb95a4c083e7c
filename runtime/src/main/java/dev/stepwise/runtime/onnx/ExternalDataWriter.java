package dev.stepwise.runtime.onnx;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Streams weights into one ONNX external data file ({@code model.onnx_data}) as they are traced. Every tensor starts at
 * a 64-byte aligned offset (so runtimes can use the bytes in place with vector loads) and is described by a
 * TensorProto with {@code data_location = EXTERNAL} and {@code location}/{@code offset}/{@code length} entries.
 * Nothing but two scratch buffers (a piece being copied, a band being transposed) is held in memory.
 */
public final class ExternalDataWriter implements WeightSink, Closeable {
    /** Alignment of every tensor's first byte in the file. */
    public static final int ALIGNMENT = ExternalDataFile.ALIGNMENT;
    static final int DEFAULT_SCRATCH_BYTES = 16 << 20;
    /** Side of the square tiles a transpose walks, so reads and writes both stay within cache. */
    private static final int TILE = 64;

    private final ExternalDataFile out;
    private final int scratchBytes;
    private final ByteBuffer[] scratch = new ByteBuffer[2];
    private int tensorCount;

    /** Creates (or truncates) {@code file}; initializers will name it by its file name, relative to the model. */
    public ExternalDataWriter(Path file) {
        this(file, DEFAULT_SCRATCH_BYTES);
    }

    ExternalDataWriter(Path file, int scratchBytes) {
        this.out = new ExternalDataFile(file);
        this.scratchBytes = scratchBytes;
    }

    /** The {@code location} written into initializers: the file name. */
    public String location() {
        return out.location();
    }

    public Path file() {
        return out.file();
    }

    /** Size of the file so far. */
    public long bytesWritten() {
        return out.size();
    }

    public int tensorCount() {
        return tensorCount;
    }

    @Override
    public TensorProto write(String name, DType type, long[] dims, TensorBytes data) {
        int elemType = OnnxTypes.elemType(type);
        long expected = OnnxTypes.elementCount(dims) * OnnxTypes.byteSize(elemType);
        if (data.size() != expected) {
            throw new StepwiseException("weight '" + name + "': " + data.size() + " bytes, expected " + expected
                    + " for " + type + Arrays.toString(dims));
        }
        long offset = out.alignedStart();
        // Whole elements per piece, so a converting source never splits one.
        int piece = (int) Math.max(8, scratchBytes / 8 * 8);
        ByteBuffer buf = scratch(0, piece);
        for (long done = 0; done < expected; ) {
            int n = (int) Math.min(piece, expected - done);
            buf.clear().limit(n);
            data.read(done, buf);
            buf.flip();
            out.writeAt(buf, offset + done, name);
            done += n;
        }
        return finish(name, elemType, dims, offset, expected);
    }

    /**
     * Transposes a float32 or float16 matrix while streaming it out: a band of source rows is read, transposed in
     * memory, and each of its output-row segments written where it belongs, so only two band-sized buffers exist
     * whatever the matrix's size.
     */
    @Override
    public TensorProto writeTransposed(String name, DType type, long rows, long cols, TensorBytes data) {
        if (type != DType.FLOAT && type != DType.FLOAT16) {
            throw new StepwiseException("weight '" + name + "': cannot transpose a " + type + " matrix");
        }
        int elemType = OnnxTypes.elemType(type);
        int size = OnnxTypes.byteSize(elemType);
        long count = rows * cols;
        if (data.size() != count * size) {
            throw new StepwiseException("weight '" + name + "': " + data.size() + " bytes, expected " + count * size
                    + " for a " + (type == DType.FLOAT ? "float32" : "float16") + " [" + rows + ", " + cols + "] matrix");
        }
        long offset = out.alignedStart();
        long rowBytes = cols * size;
        int bandRows = (int) Math.max(1, Math.min(rows, scratchBytes / Math.max(1, rowBytes)));
        ByteBuffer band = scratch(0, Math.toIntExact(bandRows * rowBytes));
        ByteBuffer transposed = scratch(1, Math.toIntExact(bandRows * rowBytes));
        for (long i0 = 0; i0 < rows; i0 += bandRows) {
            int n = (int) Math.min(bandRows, rows - i0);
            band.clear().limit(Math.toIntExact(n * rowBytes));
            data.read(i0 * rowBytes, band);
            band.flip();
            transposed.clear();
            // the band [n, cols] becomes [cols, n]
            if (size == 4) {
                FloatBuffer src = band.asFloatBuffer();
                FloatBuffer dst = transposed.asFloatBuffer();
                transposeBand(n, cols, (to, from) -> dst.put(to, src.get(from)));
            } else {
                ShortBuffer src = band.asShortBuffer();
                ShortBuffer dst = transposed.asShortBuffer();
                transposeBand(n, cols, (to, from) -> dst.put(to, src.get(from)));
            }
            if (n == rows) {
                transposed.limit(Math.toIntExact(count * size));
                out.writeAt(transposed, offset, name);
                break;
            }
            long segment = (long) n * size;
            for (long j = 0; j < cols; j++) {
                transposed.limit(Math.toIntExact((j + 1) * segment)).position(Math.toIntExact(j * segment));
                out.writeAt(transposed, offset + (j * rows + i0) * size, name);
            }
        }
        return finish(name, elemType, new long[] {cols, rows}, offset, count * size);
    }

    /** Moves one element of a band from its source index to its transposed index (one per element width). */
    private interface ElementMove {
        void move(int to, int from);
    }

    /** Transposes a band of {@code rows x cols} elements in square tiles: element (i, j) lands at {@code j * rows + i}. */
    private static void transposeBand(long rows, long cols, ElementMove element) {
        for (long i0 = 0; i0 < rows; i0 += TILE) {
            long i1 = Math.min(rows, i0 + TILE);
            for (long j0 = 0; j0 < cols; j0 += TILE) {
                long j1 = Math.min(cols, j0 + TILE);
                for (long i = i0; i < i1; i++) {
                    int srcRow = (int) (i * cols);
                    for (long j = j0; j < j1; j++) {
                        element.move((int) (j * rows + i), srcRow + (int) j);
                    }
                }
            }
        }
    }

    /** Reusable direct buffer {@code which} (0 or 1), grown to at least {@code bytes}. */
    private ByteBuffer scratch(int which, int bytes) {
        if (scratch[which] == null || scratch[which].capacity() < bytes) {
            scratch[which] = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
        return scratch[which].clear();
    }

    private TensorProto finish(String name, int elemType, long[] dims, long offset, long length) {
        tensorCount++;
        TensorProto.Builder t = out.pointTo(TensorProto.newBuilder().setName(name).setDataType(elemType), offset, length);
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    @Override
    public void close() {
        out.close();
    }
}
