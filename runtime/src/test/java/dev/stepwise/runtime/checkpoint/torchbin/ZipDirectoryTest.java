package dev.stepwise.runtime.checkpoint.torchbin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The zip central directory reader, against archives written by java.util.zip and by the torch-style test writer. */
class ZipDirectoryTest {
    @TempDir
    Path dir;

    private static final byte[] ALPHA = "alpha bytes".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BETA = new byte[300];

    static {
        for (int i = 0; i < BETA.length; i++) {
            BETA[i] = (byte) i;
        }
    }

    private static Map<String, ZipDirectory.Entry> read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file)) {
            return ZipDirectory.read(file.toString(), channel).entries();
        }
    }

    private static byte[] dataOf(Path file, ZipDirectory.Entry e) throws IOException {
        byte[] all = Files.readAllBytes(file);
        return Arrays.copyOfRange(all, (int) e.dataOffset(), (int) (e.dataOffset() + e.compressedSize()));
    }

    private String fail(Path file) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> read(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void readsStoredEntriesWrittenByJavaUtilZip() throws IOException {
        Path file = dir.resolve("java.zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, byte[]> e : Map.of("a/one", ALPHA, "a/data/0", BETA).entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                entry.setMethod(ZipEntry.STORED);
                entry.setSize(e.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                entry.setCrc(crc.getValue());
                entry.setComment("a comment");
                out.putNextEntry(entry);
                out.write(e.getValue());
                out.closeEntry();
            }
            out.setComment("archive comment");
        }
        Map<String, ZipDirectory.Entry> entries = read(file);
        assertEquals(2, entries.size());
        assertArrayEquals(ALPHA, dataOf(file, entries.get("a/one")));
        assertArrayEquals(BETA, dataOf(file, entries.get("a/data/0")));
        assertTrue(entries.get("a/one").stored());
    }

    @Test
    void reportsDeflatedEntriesAsSuch() throws IOException {
        Path file = dir.resolve("deflated.zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(file))) {
            out.putNextEntry(new ZipEntry("a/data/0"));
            out.write(BETA);
            out.closeEntry();
        }
        ZipDirectory.Entry e = read(file).get("a/data/0");
        assertFalse(e.stored());
        assertEquals(8, e.method());
        assertEquals(BETA.length, e.size());
    }

    @Test
    void torchStyleArchivesAreAlignedAndReadableByJavaUtilZip() throws IOException {
        Path file = Files.write(dir.resolve("torch.zip"), new TorchZip().add("x/data.pkl", ALPHA).add("x/data/0", BETA).bytes());
        Map<String, ZipDirectory.Entry> entries = read(file);
        for (ZipDirectory.Entry e : entries.values()) {
            assertEquals(0, e.dataOffset() % 64, e.name() + " starts on a 64-byte boundary");
        }
        assertArrayEquals(BETA, dataOf(file, entries.get("x/data/0")));
        try (ZipFile zip = new ZipFile(file.toFile())) { // an independent reader agrees (sizes, CRCs, zip64 end records)
            assertArrayEquals(BETA, zip.getInputStream(zip.getEntry("x/data/0")).readAllBytes());
            assertArrayEquals(ALPHA, zip.getInputStream(zip.getEntry("x/data.pkl")).readAllBytes());
        }
    }

    @Test
    void zip64ExtraFieldsGiveSizesAndOffsets() throws IOException {
        Path file = Files.write(dir.resolve("zip64.zip"),
                new TorchZip().zip64Fields().add("x/data.pkl", ALPHA).add("x/data/0", BETA).bytes());
        Map<String, ZipDirectory.Entry> entries = read(file);
        assertEquals(BETA.length, entries.get("x/data/0").size());
        assertArrayEquals(BETA, dataOf(file, entries.get("x/data/0")));
        try (ZipFile zip = new ZipFile(file.toFile())) {
            assertArrayEquals(BETA, zip.getInputStream(zip.getEntry("x/data/0")).readAllBytes());
        }
    }

    @Test
    void plainArchives() throws IOException {
        Path file = Files.write(dir.resolve("plain.zip"), new TorchZip().plain().add("x/data/0", BETA).bytes());
        assertArrayEquals(BETA, dataOf(file, read(file).get("x/data/0")));
    }

    @Test
    void tooShortOrNoEndRecord() throws IOException {
        assertTrue(fail(Files.write(dir.resolve("short.zip"), new byte[10])).contains("file is 10 bytes, too short for a zip archive"));
        assertTrue(fail(Files.write(dir.resolve("zeros.zip"), new byte[1000]))
                .contains("no zip end-of-central-directory record found (truncated download, or not a zip archive)"));
    }

    @Test
    void truncatedArchives() throws IOException {
        byte[] whole = new TorchZip().add("x/data.pkl", ALPHA).add("x/data/0", BETA).bytes();
        for (int cut : new int[] {whole.length - 1, whole.length - 30, whole.length / 2, 100}) {
            fail(Files.write(dir.resolve("cut" + cut + ".zip"), Arrays.copyOf(whole, cut)));
        }
    }

    /** Rewrites one little-endian field of the archive, to forge a directory. */
    private Path forge(String name, byte[] zip, int signature, int fieldOffset, int width, long value) throws IOException {
        byte[] copy = zip.clone();
        int at = lastIndexOf(copy, signature) + fieldOffset;
        for (int i = 0; i < width; i++) {
            copy[at + i] = (byte) (value >>> (8 * i));
        }
        return Files.write(dir.resolve(name), copy);
    }

    private static int lastIndexOf(byte[] bytes, int signature) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = bytes.length - 4; i >= 0; i--) {
            if (b.getInt(i) == signature) {
                return i;
            }
        }
        throw new AssertionError("no signature");
    }

    @Test
    void forgedDirectoriesCannotPointOutsideTheFile() throws IOException {
        byte[] plain = new TorchZip().plain().add("x/data/0", BETA).bytes();
        assertTrue(fail(forge("offset.zip", plain, ZipDirectory.END_OF_DIRECTORY, 16, 4, 0x7fffffffL))
                .contains("runs past its end record"));
        assertTrue(fail(forge("count.zip", plain, ZipDirectory.END_OF_DIRECTORY, 10, 2, 1000))
                .contains("claims 1000 entries"));
        assertTrue(fail(forge("local.zip", plain, ZipDirectory.CENTRAL_HEADER, 42, 4, 0x1000))
                .contains("zip entry 'x/data/0' starts at offset 4096, outside the file's data"));
        assertTrue(fail(forge("size.zip", plain, ZipDirectory.CENTRAL_HEADER, 20, 4, 0x10000))
                .contains("zip entry 'x/data/0' (65536 bytes at offset 38) runs past the end of the data"));
        assertTrue(fail(forge("sizes.zip", plain, ZipDirectory.CENTRAL_HEADER, 24, 4, 1))
                .contains("stored uncompressed but its sizes differ"));
        assertTrue(fail(forge("encrypted.zip", plain, ZipDirectory.CENTRAL_HEADER, 8, 2, 1)).contains("is encrypted"));
        assertTrue(fail(forge("nolocal.zip", plain, ZipDirectory.LOCAL_HEADER, 0, 4, 0)).contains("has no local header"));

        byte[] torch = new TorchZip().add("x/data/0", BETA).bytes();
        assertTrue(fail(forge("zip64.zip", torch, ZipDirectory.ZIP64_LOCATOR, 8, 8, 1L << 40))
                .contains("zip64 end-of-central-directory offset 1099511627776 lies outside the file"));
        assertTrue(fail(forge("disks.zip", torch, ZipDirectory.ZIP64_END_OF_DIRECTORY, 16, 4, 2)).contains("spans several disks"));
    }

    @Test
    void duplicateEntriesAreRefused() throws IOException {
        Path file = Files.write(dir.resolve("dup.zip"), new TorchZip().add("x/data/0", ALPHA).add("x/data/0", BETA).bytes());
        assertTrue(fail(file).contains("zip archive holds entry 'x/data/0' twice"));
    }

    @Test
    void missingZip64ExtraIsReported() throws IOException {
        // Saturate the size in a plain directory entry without giving the zip64 extra field it then needs.
        byte[] plain = new TorchZip().plain().add("x/data/0", BETA).bytes();
        assertTrue(fail(forge("nozip64.zip", plain, ZipDirectory.CENTRAL_HEADER, 24, 4, 0xffffffffL))
                .contains("needs a zip64 extra field"));
    }
}
