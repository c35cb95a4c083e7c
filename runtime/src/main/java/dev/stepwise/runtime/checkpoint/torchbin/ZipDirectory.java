package dev.stepwise.runtime.checkpoint.torchbin;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The entries of a zip archive, read from its central directory (zip64 included) without inflating anything: for each
 * entry its name, compression method, sizes and the file offset where its bytes start, so that stored (uncompressed)
 * entries can be memory-mapped in place. Every offset is checked, so a forged directory cannot point outside the file.
 *
 * <p>Record layouts follow the zip specification (PKWARE APPNOTE): end of central directory (EOCD), the zip64 EOCD
 * locator and record that precede it, central directory headers, local file headers.
 */
final class ZipDirectory {
    static final int LOCAL_HEADER = 0x04034b50;
    static final int CENTRAL_HEADER = 0x02014b50;
    static final int END_OF_DIRECTORY = 0x06054b50;
    static final int ZIP64_END_OF_DIRECTORY = 0x06064b50;
    static final int ZIP64_LOCATOR = 0x07064b50;

    static final int METHOD_STORED = 0;
    private static final int EOCD_SIZE = 22;
    private static final int ZIP64_EOCD_SIZE = 56;
    private static final int ZIP64_LOCATOR_SIZE = 20;
    private static final int CENTRAL_HEADER_SIZE = 46;
    private static final int LOCAL_HEADER_SIZE = 30;
    private static final int MAX_COMMENT = 0xffff;
    /** A directory entry is about 100 bytes; a checkpoint with a million tensors would still fit. */
    static final long MAX_DIRECTORY_BYTES = 256L * 1024 * 1024;

    /** One archive member. {@code dataOffset} is where its (possibly compressed) bytes start in the file. */
    record Entry(String name, int method, long compressedSize, long size, long dataOffset) {
        boolean stored() {
            return method == METHOD_STORED;
        }
    }

    private final Map<String, Entry> entries;

    private ZipDirectory(Map<String, Entry> entries) {
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** Entries by name, in central directory order. */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Reads the directory of the zip in {@code channel}.
     *
     * @param file how to name the file in errors
     */
    static ZipDirectory read(String file, FileChannel channel) {
        try {
            return new Reader(file, channel).read();
        } catch (IOException e) {
            throw new StepwiseException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static final class Reader {
        private final String file;
        private final FileChannel channel;
        private final long fileSize;

        Reader(String file, FileChannel channel) throws IOException {
            this.file = file;
            this.channel = channel;
            this.fileSize = channel.size();
        }

        ZipDirectory read() throws IOException {
            if (fileSize < EOCD_SIZE) {
                throw fail("file is " + fileSize + " bytes, too short for a zip archive (truncated file?)");
            }
            int tailLength = (int) Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
            long tailStart = fileSize - tailLength;
            ByteBuffer tail = readAt(tailStart, tailLength);
            int at = findEndOfDirectory(tail);
            if (at < 0) {
                throw fail("no zip end-of-central-directory record found (truncated download, or not a zip archive)");
            }
            long eocdPosition = tailStart + at;
            long diskNumber = u16(tail, at + 4);
            long directoryDisk = u16(tail, at + 6);
            long entryCount = u16(tail, at + 10);
            long directorySize = u32(tail, at + 12);
            long directoryOffset = u32(tail, at + 16);
            long directoryLimit = eocdPosition;

            if (eocdPosition >= ZIP64_LOCATOR_SIZE && readAt(eocdPosition - ZIP64_LOCATOR_SIZE, 4).getInt(0) == ZIP64_LOCATOR) {
                ByteBuffer locator = readAt(eocdPosition - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE);
                long zip64Position = locator.getLong(8);
                if (zip64Position < 0 || zip64Position > eocdPosition - ZIP64_LOCATOR_SIZE - ZIP64_EOCD_SIZE) {
                    throw fail("zip64 end-of-central-directory offset " + Long.toUnsignedString(zip64Position)
                            + " lies outside the file (corrupt archive)");
                }
                ByteBuffer zip64 = readAt(zip64Position, ZIP64_EOCD_SIZE);
                if (zip64.getInt(0) != ZIP64_END_OF_DIRECTORY) {
                    throw fail("no zip64 end-of-central-directory record at offset " + zip64Position + " (corrupt archive)");
                }
                diskNumber = u32(zip64, 16);
                directoryDisk = u32(zip64, 20);
                entryCount = zip64.getLong(32);
                directorySize = zip64.getLong(40);
                directoryOffset = zip64.getLong(48);
                directoryLimit = zip64Position;
            }
            if (diskNumber != 0 || directoryDisk != 0) {
                throw fail("zip archive spans several disks, which is not supported");
            }
            if (directoryOffset < 0 || directorySize < 0 || directoryOffset > directoryLimit
                    || directorySize > directoryLimit - directoryOffset) {
                throw fail("zip central directory (" + Long.toUnsignedString(directorySize) + " bytes at offset "
                        + Long.toUnsignedString(directoryOffset) + ") runs past its end record at " + directoryLimit
                        + " (truncated or corrupt archive)");
            }
            if (directorySize > MAX_DIRECTORY_BYTES) {
                throw fail("zip central directory is " + directorySize + " bytes, more than the " + MAX_DIRECTORY_BYTES
                        + " a checkpoint needs (corrupt archive?)");
            }
            if (entryCount < 0 || entryCount > directorySize / CENTRAL_HEADER_SIZE) {
                throw fail("zip directory claims " + Long.toUnsignedString(entryCount) + " entries but is only "
                        + directorySize + " bytes long (corrupt archive)");
            }
            ByteBuffer directory = readAt(directoryOffset, (int) directorySize);
            Map<String, Entry> entries = new LinkedHashMap<>();
            int position = 0;
            for (long i = 0; i < entryCount; i++) {
                Entry entry = readEntry(directory, position, directoryOffset);
                if (entries.put(entry.name(), entry) != null) {
                    throw fail("zip archive holds entry '" + PickleReader.printable(entry.name()) + "' twice");
                }
                position += CENTRAL_HEADER_SIZE + u16(directory, position + 28) + u16(directory, position + 30)
                        + u16(directory, position + 32);
            }
            return new ZipDirectory(entries);
        }

        /** The last EOCD signature whose comment length exactly fills the rest of the tail, or −1. */
        private int findEndOfDirectory(ByteBuffer tail) {
            for (int at = tail.limit() - EOCD_SIZE; at >= 0; at--) {
                if (tail.getInt(at) == END_OF_DIRECTORY && at + EOCD_SIZE + u16(tail, at + 20) == tail.limit()) {
                    return at;
                }
            }
            return -1;
        }

        private Entry readEntry(ByteBuffer directory, int at, long directoryOffset) throws IOException {
            if (at > directory.limit() - CENTRAL_HEADER_SIZE || directory.getInt(at) != CENTRAL_HEADER) {
                throw fail("zip central directory entry at offset " + (directoryOffset + at) + " is malformed (corrupt archive)");
            }
            int flags = u16(directory, at + 8);
            int method = u16(directory, at + 10);
            long compressedSize = u32(directory, at + 20);
            long size = u32(directory, at + 24);
            int nameLength = u16(directory, at + 28);
            int extraLength = u16(directory, at + 30);
            int commentLength = u16(directory, at + 32);
            long localOffset = u32(directory, at + 42);
            int nameStart = at + CENTRAL_HEADER_SIZE;
            if ((long) nameStart + nameLength + extraLength + commentLength > directory.limit()) {
                throw fail("zip central directory entry at offset " + (directoryOffset + at)
                        + " runs past the end of the directory (corrupt archive)");
            }
            byte[] nameBytes = new byte[nameLength];
            directory.get(nameStart, nameBytes);
            String name = new String(nameBytes, StandardCharsets.UTF_8);

            // Sizes and offsets that do not fit 32 bits are saturated and given in the zip64 extra field instead,
            // in this order, each present only when its field is saturated.
            if (size == 0xffffffffL || compressedSize == 0xffffffffL || localOffset == 0xffffffffL) {
                ByteBuffer zip64 = zip64Extra(directory, nameStart + nameLength, extraLength, name);
                if (size == 0xffffffffL) {
                    size = zip64Long(zip64, name);
                }
                if (compressedSize == 0xffffffffL) {
                    compressedSize = zip64Long(zip64, name);
                }
                if (localOffset == 0xffffffffL) {
                    localOffset = zip64Long(zip64, name);
                }
            }
            if ((flags & 1) != 0) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' is encrypted");
            }
            if (localOffset < 0 || localOffset > directoryOffset - LOCAL_HEADER_SIZE) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' starts at offset " + Long.toUnsignedString(localOffset)
                        + ", outside the file's data (corrupt archive)");
            }
            ByteBuffer local = readAt(localOffset, LOCAL_HEADER_SIZE);
            if (local.getInt(0) != LOCAL_HEADER) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' has no local header at offset " + localOffset + " (corrupt archive)");
            }
            long dataOffset = localOffset + LOCAL_HEADER_SIZE + u16(local, 26) + u16(local, 28);
            if (compressedSize < 0 || dataOffset > directoryOffset || compressedSize > directoryOffset - dataOffset) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' (" + Long.toUnsignedString(compressedSize) + " bytes at offset "
                        + dataOffset + ") runs past the end of the data (truncated or corrupt archive)");
            }
            if (method == METHOD_STORED && size != compressedSize) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' is stored uncompressed but its sizes differ (" + size + " vs "
                        + compressedSize + "; corrupt archive)");
            }
            return new Entry(name, method, compressedSize, size, dataOffset);
        }

        private ByteBuffer zip64Extra(ByteBuffer directory, int start, int length, String name) {
            int at = start;
            while (at + 4 <= start + length) {
                int id = u16(directory, at);
                int size = u16(directory, at + 2);
                if (at + 4 + size > start + length) {
                    break;
                }
                if (id == 0x0001) {
                    return directory.slice(at + 4, size).order(ByteOrder.LITTLE_ENDIAN);
                }
                at += 4 + size;
            }
            throw fail("zip entry '" + PickleReader.printable(name) + "' needs a zip64 extra field for its sizes, but has none (corrupt archive)");
        }

        private long zip64Long(ByteBuffer zip64, String name) {
            if (zip64.remaining() < 8) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' has a zip64 extra field that is too short (corrupt archive)");
            }
            long value = zip64.getLong();
            if (value < 0) {
                throw fail("zip entry '" + PickleReader.printable(name) + "' has an implausible zip64 size or offset (corrupt archive)");
            }
            return value;
        }

        private ByteBuffer readAt(long position, int length) throws IOException {
            ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, position + buffer.position()) < 0) {
                    throw fail("ends early at byte " + (position + buffer.position()) + " (truncated file?)");
                }
            }
            return buffer.flip();
        }

        private StepwiseException fail(String message) {
            return new StepwiseException(file + ": " + message);
        }
    }

    static int u16(ByteBuffer b, int at) {
        return b.getShort(at) & 0xffff;
    }

    static long u32(ByteBuffer b, int at) {
        return b.getInt(at) & 0xffffffffL;
    }
}
