package dev.stepwise.runtime.checkpoint.torchbin;

import static dev.stepwise.runtime.checkpoint.torchbin.TorchSave.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pytorch_model.bin files built in the test: what is read, and the catalogue of what is refused. */
class TorchBinFileTest {
    @TempDir
    Path dir;

    private Path bin() {
        return dir.resolve("pytorch_model.bin");
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private String failOpen(Path file) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> TorchBinFile.open(file).close());
        String message = e.getMessage();
        assertFalse(message.contains("\n"), "one line: " + message);
        assertTrue(message.startsWith(file + ": "), "names the file: " + message);
        return message;
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    // ---------------------------------------------------------------------------------------------- what is read

    @Test
    void roundTripsF32F16Bf16AndI64() throws IOException {
        new TorchSave()
                .f32("w", shape(2, 3), 1, -2, 3.5f, 4, 5, 6e-8f)
                .f16("h", shape(4), 0.5f, -1, 65504, 6.1035156e-5f)
                .bf16("b", shape(2, 1), 3, -0.15625f)
                .i64("ids", shape(3), 7, -1, 1L << 40)
                .write(bin());
        try (TorchBinFile f = TorchBinFile.open(bin())) {
            assertEquals(List.of("w", "h", "b", "ids"), new ArrayList<>(f.names()));
            assertEquals(SafetensorsDtype.F32, f.dtype("w"));
            assertArrayEquals(new long[] {2, 3}, f.shape("w"));
            assertArrayEquals(new float[] {1, -2, 3.5f, 4, 5, 6e-8f}, floats(f.float32("w")));
            assertEquals(SafetensorsDtype.F16, f.dtype("h"));
            assertArrayEquals(new float[] {0.5f, -1, 65504, 6.1035156e-5f}, floats(f.float32("h")));
            assertEquals(8, f.raw("h").remaining());
            assertEquals(SafetensorsDtype.BF16, f.dtype("b"));
            assertArrayEquals(new long[] {2, 1}, f.shape("b"));
            assertArrayEquals(new float[] {3, -0.15625f}, floats(f.float32("b")));
            assertEquals(SafetensorsDtype.I64, f.dtype("ids"));
            ByteBuffer ids = f.raw("ids");
            assertEquals(-1, ids.getLong(8));
            assertEquals(1L << 40, ids.getLong(16));
            assertEquals(bin() + ": tensor 'ids' is I64; only F32, F16 and BF16 tensors can be read as float32",
                    assertThrows(StepwiseException.class, () -> f.float32("ids")).getMessage());
            assertEquals(bin() + ": no tensor 'nope'", assertThrows(StepwiseException.class, () -> f.shape("nope")).getMessage());
            assertFalse(f.has("nope"));
        }
    }

    @Test
    void float32TensorsAreReadOnlyMappingsOfTheFile() throws IOException {
        new TorchSave().f32("w", shape(3), 1, 2, 3).write(bin());
        try (TorchBinFile f = TorchBinFile.open(bin())) {
            ByteBuffer w = f.float32("w");
            assertTrue(w.isDirect());
            assertTrue(w.isReadOnly());
            assertEquals(0, w.position());
            assertEquals(12, w.limit());
            assertEquals(java.nio.ByteOrder.LITTLE_ENDIAN, w.order());
        }
    }

    @Test
    void sharedStoragesOffsetViewsAndDegenerateShapes() throws IOException {
        new TorchSave()
                .f32("wte", shape(2, 3), 1, 2, 3, 4, 5, 6)
                .view("lm_head", "0", 0, shape(2, 3), shape(3, 1)) // tied, as GPT-2's state dict has it
                .view("tail", "0", 2, shape(2, 2), shape(2, 1)) // a view starting inside the storage
                .view("row", "0", 3, shape(1, 3), shape(99, 1)) // the stride of a size-1 dimension is never used
                .view("empty", "0", 6, shape(0, 3), shape(5, 7)) // no elements: any stride, offset at the end
                .view("scalar", "0", 5, shape(), shape())
                .write(bin());
        try (TorchBinFile f = TorchBinFile.open(bin())) {
            assertArrayEquals(floats(f.float32("wte")), floats(f.float32("lm_head")));
            assertArrayEquals(new float[] {3, 4, 5, 6}, floats(f.float32("tail")));
            assertArrayEquals(new float[] {4, 5, 6}, floats(f.float32("row")));
            assertArrayEquals(new long[] {0, 3}, f.shape("empty"));
            assertEquals(0, f.float32("empty").remaining());
            assertArrayEquals(new long[0], f.shape("scalar"));
            assertArrayEquals(new float[] {6}, floats(f.float32("scalar")));
        }
    }

    @Test
    void plainDictParametersLegacyRebuildAndEmptyStateDicts() throws IOException {
        for (TorchSave save : List.of(new TorchSave().plainDict(), new TorchSave().asParameters(), new TorchSave().legacyRebuild())) {
            save.f32("w", shape(2), 1, 2).f16("h", shape(1), 3).write(bin());
            try (TorchBinFile f = TorchBinFile.open(bin())) {
                assertArrayEquals(new float[] {1, 2}, floats(f.float32("w")));
                assertArrayEquals(new float[] {3}, floats(f.float32("h")));
            }
        }
        new TorchSave().write(bin());
        try (TorchBinFile f = TorchBinFile.open(bin())) {
            assertTrue(f.names().isEmpty());
        }
    }

    @Test
    void readsAPickleWrittenByCPythonAtProtocol4() throws IOException {
        TorchSave storages = new TorchSave().f32("unused", shape(6), 1, 2, 3, 4, 5, 6).f16("unused2", shape(3), 7, 8, 9);
        storages.write(bin(), HexFormat.of().parseHex(PickleReaderTest.CPYTHON_PROTOCOL_4));
        try (TorchBinFile f = TorchBinFile.open(bin())) {
            assertEquals(List.of("a.weight", "b", "tied"), new ArrayList<>(f.names()));
            assertArrayEquals(new long[] {2, 3}, f.shape("tied"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, floats(f.float32("tied")));
            assertArrayEquals(new float[] {7, 8, 9}, floats(f.float32("b")));
        }
    }

    /**
     * The layout of a file written by {@code torch.save({'tensor': torch.tensor([1, -2, 3], dtype=torch.int16)},
     * 'int16.pt')} with torch 2.x, spelled out: a plain dict pickled at protocol 2, and the zip entries in the order
     * torch writes them, each 64-byte aligned by an "FB" extra field, with data descriptors and zip64 end records.
     */
    @Test
    void goldenTorch2FileLayout() throws IOException {
        PickleBytes p = new PickleBytes()
                .raw(0x80, 0x02) //                                      PROTO 2
                .raw(0x7d).raw(0x71, 0x00) //                            EMPTY_DICT, BINPUT 0
                .raw(0x58, 6, 0, 0, 0).raw(ascii("tensor")).raw(0x71, 0x01) // BINUNICODE 'tensor', BINPUT 1
                .raw(0x63).raw(ascii("torch._utils\n_rebuild_tensor_v2\n")).raw(0x71, 0x02) // GLOBAL, BINPUT 2
                .raw(0x28) //                                            MARK (arguments)
                .raw(0x28) //                                            MARK (persistent id)
                .raw(0x58, 7, 0, 0, 0).raw(ascii("storage")).raw(0x71, 0x03)
                .raw(0x63).raw(ascii("torch\nShortStorage\n")).raw(0x71, 0x04)
                .raw(0x58, 1, 0, 0, 0).raw(ascii("0")).raw(0x71, 0x05) // storage key
                .raw(0x58, 3, 0, 0, 0).raw(ascii("cpu")).raw(0x71, 0x06) // location
                .raw(0x4b, 3) //                                         BININT1 3 (elements)
                .raw(0x74).raw(0x71, 0x07) //                            TUPLE, BINPUT 7
                .raw(0x51) //                                            BINPERSID
                .raw(0x4b, 0) //                                         storage_offset 0
                .raw(0x4b, 3, 0x85).raw(0x71, 0x08) //                   size (3,)
                .raw(0x4b, 1, 0x85).raw(0x71, 0x09) //                   stride (1,)
                .raw(0x89) //                                            requires_grad False
                .raw(0x63).raw(ascii("collections\nOrderedDict\n")).raw(0x71, 0x0a)
                .raw(0x29, 0x52).raw(0x71, 0x0b) //                      OrderedDict() backward hooks
                .raw(0x74).raw(0x71, 0x0c) //                            TUPLE (arguments)
                .raw(0x52).raw(0x71, 0x0d) //                            REDUCE
                .raw(0x73) //                                            SETITEM
                .raw(0x2e); //                                           STOP
        byte[] zip = new TorchZip()
                .add("int16/data.pkl", p.bytes())
                .add("int16/.format_version", "1")
                .add("int16/.storage_alignment", "64")
                .add("int16/byteorder", "little")
                .add("int16/data/0", new byte[] {1, 0, (byte) 0xfe, (byte) 0xff, 3, 0})
                .add("int16/version", "3\n")
                .add("int16/.data/serialization_id", "1234567890123456789012345678901234567890")
                .bytes();
        Path file = Files.write(dir.resolve("int16.pt"), zip);
        try (TorchBinFile f = TorchBinFile.open(file)) {
            assertEquals(List.of("tensor"), new ArrayList<>(f.names()));
            assertEquals(SafetensorsDtype.I16, f.dtype("tensor"));
            assertArrayEquals(new long[] {3}, f.shape("tensor"));
            ByteBuffer raw = f.raw("tensor");
            assertEquals(List.of((short) 1, (short) -2, (short) 3), List.of(raw.getShort(0), raw.getShort(2), raw.getShort(4)));
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void allowListIsExactlyTheTensorRebuildingCalls() {
        assertEquals(List.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
                "torch._utils._rebuild_parameter", "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage",
                "torch.DoubleStorage", "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
                "torch.ByteStorage", "torch.BoolStorage"), TorchBinFile.allowedGlobals());
    }

    // -------------------------------------------------------------------------------------- malicious pickles

    /** A valid archive (one F32 storage) around a hand-written pickle. */
    private Path withPickle(PickleBytes pickle) throws IOException {
        return new TorchSave().storage("0", "FloatStorage", 2, new byte[8]).write(bin(), pickle.bytes());
    }

    private static PickleBytes call(String module, String name, String argument) {
        return new PickleBytes().proto(2).global(module, name).binunicode(argument).op(PickleReader.TUPLE1)
                .op(PickleReader.REDUCE).op(PickleReader.STOP);
    }

    @Test
    void osSystemIsRefused() throws IOException {
        assertEquals(bin() + ": refusing pickle global 'os.system' (only tensor-rebuilding calls are allowed)",
                failOpen(withPickle(call("os", "system", "touch /tmp/pwned"))));
    }

    @Test
    void stackGlobalOfBuiltinsEvalIsRefused() throws IOException {
        PickleBytes p = new PickleBytes().proto(4).stackGlobal("builtins", "eval").shortBinunicode("__import__('os')")
                .op(PickleReader.TUPLE1).op(PickleReader.REDUCE).op(PickleReader.STOP);
        assertEquals(bin() + ": refusing pickle global 'builtins.eval' (only tensor-rebuilding calls are allowed)",
                failOpen(withPickle(p)));
    }

    @Test
    void everyOtherGlobalIsRefusedByName() throws IOException {
        for (String global : List.of("posix.system", "nt.system", "subprocess.Popen", "__builtin__.getattr", "builtins.getattr",
                "builtins.exec", "torch.storage._load_from_bytes", "torch._utils._rebuild_qtensor", "torch.device",
                "torch.load", "collections.defaultdict", "numpy.core.multiarray._reconstruct", "torch._utils.OrderedDict")) {
            int dot = global.lastIndexOf('.');
            assertEquals(bin() + ": refusing pickle global '" + global + "' (only tensor-rebuilding calls are allowed)",
                    failOpen(withPickle(call(global.substring(0, dot), global.substring(dot + 1), "x"))));
        }
    }

    @Test
    void aRefusedGlobalAnywhereRefusesTheWholeFile() throws IOException {
        // A good state dict whose _metadata hides a call: nothing of the file is used.
        TorchSave save = new TorchSave().f32("w", shape(1), 1);
        byte[] good = save.pickle();
        byte[] hidden = call("os", "system", "x").bytes();
        // Replace the final BUILD + STOP by: <key> <os.system call> SETITEM, so the call sits inside the dict.
        byte[] evil = new PickleBytes().raw(Arrays.copyOf(good, good.length - 2)).op(PickleReader.POP)
                .binunicode("evil").raw(Arrays.copyOfRange(hidden, 2, hidden.length - 1)).op(PickleReader.SETITEM)
                .op(PickleReader.STOP).bytes();
        assertMentions(failOpen(save.write(bin(), evil)), "refusing pickle global 'os.system'");
    }

    @Test
    void namesReadFromTheFileCannotBreakTheMessageLine() throws IOException {
        PickleBytes p = new PickleBytes().proto(4).stackGlobal("os", "sys\ntem\u2028").op(PickleReader.STOP);
        assertEquals(bin() + ": refusing pickle global 'os.sys\\ntem\\u2028' (only tensor-rebuilding calls are allowed)",
                failOpen(withPickle(p)));
        Path file = new TorchSave().storage("0", "FloatStorage", 6, new byte[24]).view("a\r\nb", "0", 0, shape(2, 3), shape(1, 2))
                .write(bin());
        assertMentions(failOpen(file), "tensor 'a\\u000d\\nb': strides [1, 2]");
    }

    @Test
    void unsupportedStorageTypesAreNamed() throws IOException {
        PickleBytes p = new PickleBytes().proto(2).global("torch", "ComplexFloatStorage").op(PickleReader.STOP);
        assertEquals(bin() + ": tensors of storage type 'torch.ComplexFloatStorage' are not supported (supported: FloatStorage,"
                + " HalfStorage, BFloat16Storage, DoubleStorage, LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage,"
                + " BoolStorage)", failOpen(withPickle(p)));
    }

    @Test
    void storageTypesAreNotCallable() throws IOException {
        assertMentions(failOpen(withPickle(call("torch", "FloatStorage", "x"))), "REDUCE on torch.FloatStorage, which is not a callable");
    }

    @Test
    void unknownOpcodeIsRefused() throws IOException {
        assertEquals(bin() + ": unsupported pickle opcode 0xfe (pytorch_model/data.pkl, byte 2)",
                failOpen(withPickle(new PickleBytes().proto(2).raw(0xfe))));
    }

    @Test
    void truncatedPickleIsRefused() throws IOException {
        TorchSave save = new TorchSave().f32("w", shape(2), 1, 2);
        byte[] pickle = save.pickle();
        String message = failOpen(save.write(bin(), Arrays.copyOf(pickle, pickle.length / 2)));
        assertMentions(message, "truncated file?", "(pytorch_model/data.pkl, byte ");
    }

    @Test
    void objectBuildingOpcodeIsRefused() throws IOException {
        PickleBytes p = new PickleBytes().proto(2).global("collections", "OrderedDict").op(PickleReader.EMPTY_TUPLE)
                .op(PickleReader.NEWOBJ).op(PickleReader.STOP);
        assertMentions(failOpen(withPickle(p)), "refusing pickle opcode NEWOBJ");
    }

    // ---------------------------------------------------------------------------------- inconsistent archives

    @Test
    void persistentIdOfAMissingStorage() throws IOException {
        Path file = new TorchSave().f32("w", shape(2), 1, 2).view("ghost", "7", 0, shape(0), shape(1)).write(bin());
        assertEquals(bin() + ": storage '7' is missing: the archive has no entry 'pytorch_model/data/7'", failOpen(file));
    }

    @Test
    void tensorLargerThanItsStorage() throws IOException {
        Path file = new TorchSave().storage("0", "FloatStorage", 4, new byte[16]).view("w", "0", 0, shape(2, 3), shape(3, 1)).write(bin());
        assertEquals(bin() + ": tensor 'w': needs elements [0, 6) of storage '0', which holds only 4 × torch.FloatStorage"
                + " (truncated or corrupt file?)", failOpen(file));
        file = new TorchSave().storage("0", "FloatStorage", 4, new byte[16]).view("w", "0", 3, shape(2), shape(1)).write(bin());
        assertMentions(failOpen(file), "tensor 'w': needs elements [3, 5) of storage '0'");
        file = new TorchSave().storage("0", "FloatStorage", 4, new byte[16]).view("w", "0", 5, shape(0), shape(1)).write(bin());
        assertMentions(failOpen(file), "tensor 'w': needs elements [5, 5)");
    }

    @Test
    void storageEntryShorterThanItsPersistentIdSays() throws IOException {
        Path file = new TorchSave().storage("0", "FloatStorage", 6, new byte[8]).view("w", "0", 0, shape(2), shape(1)).write(bin());
        assertEquals(bin() + ": storage '0' ('pytorch_model/data/0') holds 8 bytes, but its persistent id declares 6 ×"
                + " torch.FloatStorage (24 bytes); truncated or corrupt file?", failOpen(file));
    }

    @Test
    void nonContiguousTensorsAreRefused() throws IOException {
        Path file = new TorchSave().storage("0", "FloatStorage", 6, new byte[24]).view("w.T", "0", 0, shape(2, 3), shape(1, 2)).write(bin());
        assertEquals(bin() + ": tensor 'w.T': strides [1, 2] for shape [2, 3] are not contiguous row-major (expected [3, 1]);"
                + " only contiguous tensors are supported (save tensor.contiguous())", failOpen(file));
    }

    @Test
    void compressedStoragesAreRefused() throws IOException {
        Path file = new TorchSave().deflateData().f32("w", shape(2), 1, 2).write(bin());
        assertEquals(bin() + ": archive entry 'pytorch_model/data/0' is compressed (zip method 8); torch.save stores tensor data"
                + " uncompressed so it can be memory-mapped (re-save the checkpoint with torch.save, or as safetensors)",
                failOpen(file));
    }

    @Test
    void bigEndianCheckpointsAreRefused() throws IOException {
        Path file = new TorchSave().byteOrder("big").f32("w", shape(2), 1, 2).write(bin());
        assertEquals(bin() + ": tensors are stored with byte order 'big' ('pytorch_model/byteorder'); only little-endian"
                + " checkpoints are supported", failOpen(file));
    }

    @Test
    void storageDescribedTwiceDifferently() throws IOException {
        // Rewrite the second tensor's key '1' into '0' (same length) so one storage is read as two types.
        byte[] pickle = new TorchSave().storage("0", "FloatStorage", 2, new byte[8]).storage("1", "HalfStorage", 4, new byte[8])
                .view("a", "0", 0, shape(2), shape(1)).view("b", "1", 0, shape(2), shape(1)).pickle();
        String text = new String(pickle, StandardCharsets.ISO_8859_1).replace("X\u0001\u0000\u0000\u00001", "X\u0001\u0000\u0000\u00000");
        Path file = new TorchSave().storage("0", "FloatStorage", 2, new byte[8]).write(bin(), text.getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(bin() + ": storage '0' is described twice, as 2 × torch.FloatStorage and as 4 × torch.HalfStorage",
                failOpen(file));
    }

    @Test
    void stateDictsHoldOnlyNamedTensors() throws IOException {
        PickleBytes epoch = new PickleBytes().proto(2).op(PickleReader.EMPTY_DICT).binunicode("epoch").integer(3)
                .op(PickleReader.SETITEM).op(PickleReader.STOP);
        assertEquals(bin() + ": state dict entry 'epoch' is int 3, not a tensor (expected a dict of tensor name → tensor)",
                failOpen(withPickle(epoch)));
        PickleBytes intKey = new PickleBytes().proto(2).op(PickleReader.EMPTY_DICT).integer(1).integer(2)
                .op(PickleReader.SETITEM).op(PickleReader.STOP);
        assertEquals(bin() + ": state dict key int 1 is not a string (expected tensor names)", failOpen(withPickle(intKey)));
        PickleBytes list = new PickleBytes().proto(2).op(PickleReader.EMPTY_LIST).op(PickleReader.STOP);
        assertEquals(bin() + ": the pickle holds a list of 0, expected a state dict (a dict of tensor name → tensor)",
                failOpen(withPickle(list)));
    }

    @Test
    void malformedRebuildCallsAndPersistentIds() throws IOException {
        PickleBytes twoArgs = new PickleBytes().proto(2).global("torch._utils", "_rebuild_tensor_v2").integer(1).integer(2)
                .op(PickleReader.TUPLE2).op(PickleReader.REDUCE).op(PickleReader.STOP);
        assertEquals(bin() + ": torch._utils._rebuild_tensor_v2 called with 2 arguments, expected 6 or 7 (storage, storage_offset,"
                + " size, stride, requires_grad, backward_hooks)", failOpen(withPickle(twoArgs)));
        PickleBytes badPid = new PickleBytes().proto(2).binunicode("0").op(PickleReader.BINPERSID).op(PickleReader.STOP);
        assertEquals(bin() + ": unsupported persistent id '0' (expected ('storage', storage type, key, location, size))",
                failOpen(withPickle(badPid)));
        assertMentions(failOpen(withPickle(new PickleBytes().proto(2).global("torch._utils", "_rebuild_tensor")
                .op(PickleReader.MARK).integer(0).integer(0).op(PickleReader.EMPTY_TUPLE).op(PickleReader.EMPTY_TUPLE)
                .op(PickleReader.TUPLE).op(PickleReader.REDUCE).op(PickleReader.STOP))),
                "torch._utils._rebuild_tensor needs a storage as its first argument, found int 0");
    }

    // ------------------------------------------------------------------------------------- not torch.save zips

    @Test
    void legacyFormatIsRefusedWithAHint() throws IOException {
        // torch < 1.6 wrote a bare pickle stream, starting with PROTO 2 and a LONG1 magic number.
        Path file = Files.write(bin(), new byte[] {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46});
        assertEquals(bin() + ": this is the legacy (before PyTorch 1.6) torch.save format, a bare pickle stream, which is not"
                + " supported: re-save it with a current torch.save, or as safetensors", failOpen(file));
    }

    @Test
    void otherFilesAreNotCheckpoints() throws IOException {
        assertEquals(bin() + ": not a PyTorch checkpoint: expected a torch.save zip archive (starting with 'PK'), found bytes"
                + " 7b 22 61 22", failOpen(Files.writeString(bin(), "{\"a\": 1}")));
        assertEquals(bin() + ": not a PyTorch checkpoint: expected a torch.save zip archive (starting with 'PK'), found an empty file",
                failOpen(Files.write(bin(), new byte[0])));
        assertEquals(dir.resolve("missing.bin") + ": file not found", failOpen(dir.resolve("missing.bin")));
    }

    @Test
    void truncatedDownloadsAreRefused() throws IOException {
        byte[] whole = Files.readAllBytes(new TorchSave().f32("w", shape(64), new float[64]).write(bin()));
        assertMentions(failOpen(Files.write(bin(), Arrays.copyOf(whole, whole.length / 2))),
                "no zip end-of-central-directory record found (truncated download, or not a zip archive)");
    }

    @Test
    void zipsWithoutAPickleAreRefused() throws IOException {
        Path file = Files.write(bin(), new TorchZip().add("model/weights", new byte[4]).add("data.pkl", new byte[1]).bytes());
        assertEquals(bin() + ": the zip archive has no '<name>/data.pkl' entry; not a torch.save checkpoint (a TorchScript"
                + " archive or another zip?)", failOpen(file));
        file = Files.write(bin(), new TorchZip().add("a/data.pkl", new byte[1]).add("b/data.pkl", new byte[1]).bytes());
        assertMentions(failOpen(file), "the archive holds two pickles, 'a/data.pkl' and 'b/data.pkl'");
    }

    @Test
    void closedFilesSayWhenTensorsAreRead() throws IOException {
        new TorchSave().f32("w", shape(2), 1, 2).write(bin());
        TorchBinFile f = TorchBinFile.open(bin());
        f.close();
        assertEquals(bin() + ": already closed (reading tensor 'w')",
                assertThrows(StepwiseException.class, () -> f.float32("w")).getMessage());
    }
}
