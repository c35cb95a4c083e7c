package dev.stepwise.runtime.checkpoint.torchbin;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Writes zip archives byte by byte. In {@link #torchStyle} it lays them out the way PyTorch's writer (miniz) does:
 * each entry's data starts on a 64-byte boundary, reached by an extra field with id "FB" full of 'Z' padding; local
 * headers carry the UTF-8 and data-descriptor flags with zero sizes, the sizes following the data in a data
 * descriptor; and the archive ends with zip64 end records before the classic one. Otherwise it writes the plainest
 * zip (sizes in the local header, no padding, no zip64).
 */
final class TorchZip {
    private record Entry(String name, byte[] data, boolean deflate) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private boolean torchStyle = true;
    private boolean zip64Fields;

    TorchZip plain() {
        torchStyle = false;
        return this;
    }

    /**
     * Saturates the central directory's sizes and offsets and gives them in zip64 extra fields instead, as a writer
     * must for entries past 4 GiB.
     */
    TorchZip zip64Fields() {
        zip64Fields = true;
        return this;
    }

    TorchZip add(String name, byte[] data) {
        entries.add(new Entry(name, data, false));
        return this;
    }

    TorchZip add(String name, String text) {
        return add(name, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** An entry compressed with DEFLATE (zip method 8), which torch.save never writes. */
    TorchZip addDeflated(String name, byte[] data) {
        entries.add(new Entry(name, data, true));
        return this;
    }

    byte[] bytes() {
        Out out = new Out();
        List<long[]> written = new ArrayList<>(); // offset, crc, compressed size
        for (Entry e : entries) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] stored = e.deflate() ? deflate(e.data()) : e.data();
            CRC32 crc = new CRC32();
            crc.update(e.data());
            long offset = out.size();
            written.add(new long[] {offset, crc.getValue(), stored.length});
            int padding = 0;
            if (torchStyle) {
                long start = offset + 30 + name.length + 4;
                padding = (int) ((64 - start % 64) % 64);
            }
            out.u32(ZipDirectory.LOCAL_HEADER).u16(torchStyle ? 0 : 20).u16(flags()).u16(e.deflate() ? 8 : 0)
                    .u16(0).u16(0x21) // DOS time 00:00:00, date 1980-01-01
                    .u32(torchStyle ? 0 : crc.getValue()).u32(torchStyle ? 0 : stored.length)
                    .u32(torchStyle ? 0 : e.data().length).u16(name.length).u16(torchStyle ? 4 + padding : 0)
                    .bytes(name);
            if (torchStyle) {
                out.bytes("FB".getBytes(StandardCharsets.US_ASCII)).u16(padding);
                for (int i = 0; i < padding; i++) {
                    out.u8('Z');
                }
            }
            out.bytes(stored);
            if (torchStyle) {
                out.u32(0x08074b50).u32(crc.getValue()).u32(stored.length).u32(e.data().length);
            }
        }
        long directoryStart = out.size();
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            long[] w = written.get(i);
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            long saturated = 0xffffffffL;
            out.u32(ZipDirectory.CENTRAL_HEADER).u16(torchStyle ? 0x031e : 20).u16(zip64Fields ? 45 : 20).u16(flags())
                    .u16(e.deflate() ? 8 : 0).u16(0).u16(0x21).u32(w[1]).u32(zip64Fields ? saturated : w[2])
                    .u32(zip64Fields ? saturated : e.data().length).u16(name.length).u16(zip64Fields ? 8 + 28 : 0)
                    .u16(0).u16(0).u16(0).u32(0).u32(zip64Fields ? saturated : w[0]).bytes(name);
            if (zip64Fields) {
                // An unrelated extra field first, then zip64's: size, compressed size, local header offset.
                out.u16(0x5455).u16(4).u32(0);
                out.u16(0x0001).u16(24).u64(e.data().length).u64(w[2]).u64(w[0]);
            }
        }
        long directorySize = out.size() - directoryStart;
        if (torchStyle) {
            long zip64End = out.size();
            out.u32(ZipDirectory.ZIP64_END_OF_DIRECTORY).u64(44).u16(0x031e).u16(45).u32(0).u32(0)
                    .u64(entries.size()).u64(entries.size()).u64(directorySize).u64(directoryStart);
            out.u32(ZipDirectory.ZIP64_LOCATOR).u32(0).u64(zip64End).u32(1);
        }
        out.u32(ZipDirectory.END_OF_DIRECTORY).u16(0).u16(0).u16(entries.size()).u16(entries.size())
                .u32(directorySize).u32(directoryStart).u16(0);
        return out.toByteArray();
    }

    private int flags() {
        return torchStyle ? 0x0808 : 0; // UTF-8 names, sizes in a data descriptor
    }

    private static byte[] deflate(byte[] data) {
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
        deflater.setInput(data);
        deflater.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        while (!deflater.finished()) {
            out.write(buffer, 0, deflater.deflate(buffer));
        }
        deflater.end();
        return out.toByteArray();
    }

    /** Little-endian writer. */
    static final class Out extends ByteArrayOutputStream {
        Out u8(int v) {
            write(v);
            return this;
        }

        Out u16(int v) {
            return u8(v & 0xff).u8((v >>> 8) & 0xff);
        }

        Out u32(long v) {
            return u16((int) (v & 0xffff)).u16((int) ((v >>> 16) & 0xffff));
        }

        Out u64(long v) {
            return u32(v).u32(v >>> 32);
        }

        Out bytes(byte[] b) {
            writeBytes(b);
            return this;
        }
    }
}
