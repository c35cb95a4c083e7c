package dev.stepwise.runtime.checkpoint;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Checked access to one stored tensor's byte range, a positional read or a mapping: what both checkpoint formats share. */
public final class PositionalRead {
    private PositionalRead() {
    }

    /**
     * Reads bytes {@code [offset, offset + dst.remaining())} of a tensor whose stored bytes are {@code length} bytes
     * at {@code start} in the file; errors name the file and tensor.
     */
    public static void read(FileChannel channel, Path path, String tensor, long start, long length, long offset, ByteBuffer dst) {
        if (offset < 0 || offset + dst.remaining() > length) {
            throw new IllegalArgumentException(path + ": read of " + dst.remaining() + " bytes at " + offset
                    + " is outside tensor '" + tensor + "' (" + length + " bytes)");
        }
        if (!channel.isOpen()) {
            throw new StepwiseException(path + ": already closed (reading tensor '" + tensor + "')");
        }
        try {
            long at = start + offset;
            while (dst.hasRemaining()) {
                int n = channel.read(dst, at);
                if (n < 0) {
                    throw new StepwiseException(path + ": tensor '" + tensor + "' ends past the end of the file"
                            + " (file truncated while reading?)");
                }
                at += n;
            }
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot read tensor '" + tensor + "': " + e.getMessage(), e);
        }
    }

    /**
     * A read-only little-endian mapping of a tensor's {@code length} stored bytes at {@code start} in the file; errors
     * name the file and tensor (a buffer is limited to 2 GiB).
     */
    public static ByteBuffer map(FileChannel channel, Path path, String tensor, long start, long length) {
        if (length > Integer.MAX_VALUE) {
            throw new StepwiseException(path + ": tensor '" + tensor + "' holds " + length
                    + " bytes; tensors over 2 GiB cannot be handed out as one buffer");
        }
        if (length == 0) {
            return ByteBuffer.allocateDirect(0).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        if (!channel.isOpen()) {
            throw new StepwiseException(path + ": already closed (reading tensor '" + tensor + "')");
        }
        try {
            // READ_ONLY mappings are read-only buffers already; the order must be set since buffers start big-endian.
            return channel.map(FileChannel.MapMode.READ_ONLY, start, length).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot map tensor '" + tensor + "': " + e.getMessage(), e);
        }
    }

    /** Opens a checkpoint file for positional reads; a missing or unreadable file is one line naming it. */
    public static FileChannel open(Path path) {
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new StepwiseException(path + ": file not found");
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot open: " + e.getMessage(), e);
        }
    }

    /** Closes a checkpoint file's channel; a failure is ignored (the file was only read). */
    public static void close(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing useful to do: the file was only read
        }
    }
}
