package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An ONNX external data file being written: tensors are placed at 64-byte aligned offsets (so runtimes can use the
 * bytes in place with vector loads) and pointed at by {@code location}/{@code offset}/{@code length} entries. What the
 * streaming weight writer and the folder-wide sharing pass have in common; each decides what goes where.
 */
public final class ExternalDataFile implements Closeable {
    /** Alignment of every tensor's first byte in the file. */
    public static final int ALIGNMENT = 64;

    private final Path file;
    private final String location;
    private final FileChannel channel;
    private long size;
    private boolean closed;

    /** Creates (or truncates) {@code file}; tensors will name it by its file name, relative to the model. */
    public ExternalDataFile(Path file) {
        this.file = file;
        this.location = file.getFileName().toString();
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw OutputFolder.writeFailure("create external data file", file, e);
        }
    }

    public Path file() {
        return file;
    }

    /** The {@code location} written into tensors: the file name. */
    public String location() {
        return location;
    }

    /** Bytes written so far (the end of the last tensor). */
    public long size() {
        return size;
    }

    /** Pads the file to the next aligned offset and returns it: where the next tensor starts. */
    public long alignedStart() {
        if (closed) {
            throw new IllegalStateException("external data file " + file + " is closed");
        }
        long aligned = (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        if (aligned > size) {
            writeAt(ByteBuffer.allocate((int) (aligned - size)), size, "padding");
        }
        return aligned;
    }

    /** Writes {@code buf}'s remaining bytes at {@code at}; errors name {@code what}. */
    public void writeAt(ByteBuffer buf, long at, String what) {
        try {
            long p = at;
            while (buf.hasRemaining()) {
                p += channel.write(buf, p);
            }
            size = Math.max(size, p);
        } catch (IOException e) {
            throw OutputFolder.writeFailure("write '" + what + "' to", file, e);
        }
    }

    /** Copies {@code length} bytes of {@code in} from {@code offset} to {@code at}; errors name {@code what}. */
    public void copyAt(FileChannel in, long offset, long length, long at, String what) throws IOException {
        long done = 0;
        while (done < length) {
            long n = in.transferTo(offset + done, length - done, channel.position(at + done));
            if (n <= 0) {
                throw new IOException("copying '" + what + "' stalled");
            }
            done += n;
        }
        size = Math.max(size, at + length);
    }

    /** Records that bytes up to {@code end} are taken (a region filled through {@link #writeAt} in pieces). */
    public void extendTo(long end) {
        size = Math.max(size, end);
    }

    /** {@code t} with its data replaced by a pointer to {@code length} bytes at {@code offset} of this file. */
    public TensorProto.Builder pointTo(TensorProto.Builder t, long offset, long length) {
        return t.clearRawData().clearFloatData().clearInt32Data().clearInt64Data().clearDoubleData()
                .clearUint64Data().clearExternalData()
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("offset", Long.toString(offset)))
                .addExternalData(entry("length", Long.toString(length)));
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
            throw OutputFolder.writeFailure("close", file, e);
        }
    }
}
