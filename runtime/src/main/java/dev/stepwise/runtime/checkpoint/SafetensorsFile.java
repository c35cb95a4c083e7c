package dev.stepwise.runtime.checkpoint;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * One {@code .safetensors} file: header read and checked on open, tensor data memory-mapped on demand. Each tensor
 * is mapped on its own, so files over 2 GiB work and nothing is read onto the Java heap.
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data section that the header's
 * {@code data_offsets} point into.
 */
public final class SafetensorsFile implements TensorFile {
    /** A real header is a few hundred KB at most; anything larger means a corrupt or foreign file. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataSize;
    private final SafetensorsHeader header;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, long dataSize, SafetensorsHeader header) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.header = header;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel channel = PositionalRead.open(path);
        try {
            return read(path, channel);
        } catch (RuntimeException e) {
            PositionalRead.close(channel);
            throw e;
        }
    }

    private static SafetensorsFile read(Path path, FileChannel channel) {
        try {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw new StepwiseException(path + ": file is " + fileSize
                        + " bytes, shorter than the 8-byte safetensors header length (truncated or not a safetensors file)");
            }
            ByteBuffer lengthBytes = readFully(channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
            long headerLength = lengthBytes.getLong(0);
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw new StepwiseException(path + ": header length " + Long.toUnsignedString(headerLength)
                        + " bytes is not plausible (limit " + MAX_HEADER_BYTES + "); not a safetensors file?");
            }
            if (headerLength > fileSize - 8) {
                throw new StepwiseException(path + ": header length " + headerLength + " bytes runs past the end of the "
                        + fileSize + "-byte file (truncated or not a safetensors file)");
            }
            byte[] json = new byte[(int) headerLength];
            readFully(channel, 8, (int) headerLength).get(json);
            long dataStart = 8 + headerLength;
            long dataSize = fileSize - dataStart;
            SafetensorsHeader header = SafetensorsHeader.parse(path.toString(), json, dataSize);
            return new SafetensorsFile(path, channel, dataStart, dataSize, header);
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException("unexpected end of file");
            }
        }
        return buffer.flip();
    }

    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public Set<String> names() {
        return header.entries().keySet();
    }

    public boolean has(String name) {
        return header.entries().containsKey(name);
    }

    public SafetensorsEntry entry(String name) {
        SafetensorsEntry e = header.entries().get(name);
        if (e == null) {
            throw new StepwiseException(path + ": no tensor '" + name + "'");
        }
        return e;
    }

    public SafetensorsDtype dtype(String name) {
        return entry(name).dtype();
    }

    public long[] shape(String name) {
        return entry(name).shape();
    }

    /** The {@code __metadata__} strings (empty when the header has none). */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Bytes after the header. */
    public long dataSize() {
        return dataSize;
    }

    /** The tensor's stored bytes, as a read-only little-endian mapping of the file (no copy). */
    public ByteBuffer raw(String name) {
        SafetensorsEntry e = entry(name);
        return PositionalRead.map(channel, path, name, dataStart + e.begin(), e.byteLength());
    }

    @Override
    public void readRaw(String name, long offset, ByteBuffer dst) {
        SafetensorsEntry e = entry(name);
        PositionalRead.read(channel, path, name, dataStart + e.begin(), e.byteLength(), offset, dst);
    }

    /**
     * The tensor as little-endian float32, positioned at 0 with limit 4 × element count: the mapping itself for F32,
     * a new direct buffer of widened values for F16 and BF16.
     */
    public ByteBuffer float32(String name) {
        SafetensorsEntry e = entry(name);
        return HalfFloats.float32(path, name, e.dtype(), e.elementCount(), () -> raw(name));
    }

    /** Closes the file; buffers already handed out stay valid (the JVM unmaps them when they are collected). */
    @Override
    public void close() {
        PositionalRead.close(channel);
    }


    @Override
    public String toString() {
        return path.toString();
    }
}
